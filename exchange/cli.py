"""Command line: ``exchange serve | db upgrade | validate | push | token | demo``.

Every command calls the same functions as the HTTP API; settings come from the environment (EXCHANGE_*).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from exchange.cli_events import add_commands as add_event_commands
from exchange.settings import Settings

PUSH_CHUNK = 256 * 1024
#: Large messages take minutes to upload and validate: generous read/write limits, quick connect.
PUSH_TIMEOUT = (30.0, 3600.0)


def main(argv: list[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        sys.exit(2)
    sys.exit(args.run(args) or 0)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="exchange", description="SDMX hub for international migration statistics.")
    sub = parser.add_subparsers(metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the hub (creates or migrates the database tables first)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(run=_serve)

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(metavar="ACTION")
    upgrade = db_sub.add_parser("upgrade", help="create or migrate the hub's fixed tables (Alembic)")
    upgrade.set_defaults(run=_db_upgrade)

    validate = sub.add_parser("validate", help="check a data file with the hub's rules, without a database")
    validate.add_argument("file", type=Path)
    validate.add_argument("--json", action="store_true", help="print the full report as JSON")
    validate.add_argument("--provider", help="apply the provider rule (REF_AREA must be this country)")
    validate.add_argument("--content-type", help="media type, if the file cannot be sniffed")
    validate.set_defaults(run=_validate)

    push = sub.add_parser("push", help="push a data file to a running hub")
    push.add_argument("file", type=Path)
    push.add_argument("--url", required=True, help="the hub's base URL, e.g. http://127.0.0.1:8000")
    push.add_argument("--token", required=True)
    push.add_argument("--content-type", help="media type (default: from the file name)")
    push.add_argument("--quiet", action="store_true", help="no progress bar")
    push.set_defaults(run=_push)

    token = sub.add_parser("token", help="create or revoke API tokens")
    token_sub = token.add_subparsers(metavar="ACTION")
    create = token_sub.add_parser("create", help="create a token; prints it alone on the last line")
    who = create.add_mutually_exclusive_group(required=True)
    who.add_argument("--provider", help="data provider (ISO alpha-3 country code), e.g. KAZ")
    who.add_argument("--admin", action="store_true")
    create.add_argument("--label", default="")
    create.set_defaults(run=_token_create)
    revoke = token_sub.add_parser("revoke", help="revoke a token (by value or id)")
    revoke.add_argument("token")
    revoke.set_defaults(run=_token_revoke)

    mirror = sub.add_parser("mirror", help="mirror statistics on the hub's data (tables, or CSV with --csv)")
    mirror_sub = mirror.add_subparsers(metavar="WHAT")
    for name, help_text in (("pairs", "origin-reported E against destination-reported I, with measures"),
                            ("coverage", "a country's emigration and immigration coverage"),
                            ("estimate", "a country's emigration estimated from partners' immigration"),
                            ("factors", "correction factors (weighted least squares on log ratios)"),
                            ("harmonised", "harmonised flows")):
        command = mirror_sub.add_parser(name, help=help_text)
        command.add_argument("--period", required=True, help="e.g. 2016")
        command.add_argument("--csv", action="store_true", help="CSV on standard output instead of a table")
        if name in ("pairs",):
            command.add_argument("--origin", action="append", help="repeatable")
            command.add_argument("--destination", action="append", help="repeatable")
            command.add_argument("--region", help="only pairs between two members of this region, e.g. CIS")
            command.add_argument("--basis", choices=["residence", "citizenship", "birth"], default="residence")
            command.add_argument("--both-only", action="store_true", help="only pairs reported by both sides")
            command.add_argument("--flag", action="append", choices=["consistent", "moderate", "large", "severe"],
                                 help="only pairs with this flag (repeatable)")
        if name in ("coverage", "estimate"):
            command.add_argument("--country", required=True, help="ISO alpha-3, e.g. KAZ")
        if name == "estimate":
            command.add_argument("--gross-up", action="store_true",
                                 help="divide by the coverage of the country-born stocks abroad (MIGR_STOCK)")
        if name in ("estimate", "factors", "harmonised"):
            command.add_argument("--duration-adjust", action="store_true", help="IMEM duration coefficients first")
        if name in ("factors", "harmonised"):
            command.add_argument("--benchmark", default="SWE")
        command.set_defaults(run=_mirror, what=name)

    aggregate = sub.add_parser("aggregate", help="regional totals with coverage (tables, or CSV with --csv)")
    aggregate.add_argument("region", help="a region of CL_AREA: EU27_2020, EFTA, CIS, EECCA, UNECE, W00")
    aggregate.add_argument("--flow", choices=["EMI", "IMM"], default="EMI")
    aggregate.add_argument("--period", action="append", help="repeatable; all periods if absent")
    aggregate.add_argument("--scope", choices=["all", "intra", "extra"], default="all")
    aggregate.add_argument("--min-coverage", type=float, default=0.0)
    aggregate.add_argument("--fill-from-mirror", action="store_true")
    aggregate.add_argument("--csv", action="store_true")
    aggregate.set_defaults(run=_aggregate)

    demo = sub.add_parser("demo", help="push real Eurostat flows (one message per country) through the push path")
    demo.add_argument("--url", help="push to a running hub instead of the local database")
    demo.add_argument("--token", help="admin token for --url")
    demo.add_argument("--write", type=Path, help="only write the messages to this folder")
    demo.set_defaults(run=_demo)

    from exchange.reconcile import cli as reconcile_cli

    reconcile_cli.add_parser(sub)
    add_event_commands(sub)
    return parser


@contextmanager
def _local_hub() -> Iterator[Any]:
    """The hub on EXCHANGE_DATABASE_URL, for commands that act on the database directly."""
    from exchange.hub import open_hub

    hub = open_hub(Settings())
    try:
        yield hub
    finally:
        hub.close()


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from exchange.app import create_app

    uvicorn.run(create_app(Settings()), host=args.host, port=args.port, log_level="info")
    return 0


def _db_upgrade(_args: argparse.Namespace) -> int:
    from exchange.hub import upgrade_database

    upgrade_database(Settings())
    print("database is at the latest revision")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from exchange.catalog import load_catalog
    from exchange.ingest import validate_only
    from exchange.mapping import Mappings

    settings = Settings()
    catalog = load_catalog(Path(settings.structures_dir))
    content_type = args.content_type or _guess_type(args.file)

    def opener() -> Any:
        from exchange.body import Body, open_decoded

        handle = args.file.open("rb")
        return open_decoded(Body(handle, "", args.file.stat().st_size), settings.max_upload_bytes)

    status, body, log = validate_only(catalog, settings, opener, content_type, args.provider,
                                      Mappings.load(Path(settings.mappings_dir)))
    try:
        if args.json:
            body["issues"]["all"] = list(log)
            body["issues"].pop("first", None)
            print(json.dumps(body, indent=2))
        else:
            _print_report(body, log)
    finally:
        log.close()
    return 0 if status == 200 else 1


def _print_report(body: dict[str, Any], log: Any) -> None:
    print(body["message"])
    for dataset in body["datasets"]:
        print(f"  dataset {dataset['index']}: {dataset['structure']} {dataset['action']}, "
              f"{dataset['observations']} observations")
    for summary in body["issues"]["by_code"]:
        print(f"  {summary['count']:>8}  {summary['severity']:<7} {summary['code']}: {summary['fix']}")
    for issue in log:
        where = ", ".join(x for x in (issue["where"], issue["series_key"], issue["period"]) if x)
        print(f"{issue['severity'].upper()} {issue['code']} [{where}] {issue['message']}")


def _guess_type(path: Path) -> str | None:
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".csv"):
        return "application/vnd.sdmx.data+csv;version=2.0.0"
    if name.endswith(".xml"):
        return "application/xml"
    return None


def _push(args: argparse.Namespace) -> int:
    import httpx

    size = args.file.stat().st_size
    content_type = args.content_type or _guess_type(args.file) or "application/octet-stream"
    headers = {"Authorization": f"Bearer {args.token}", "Content-Type": content_type}
    with httpx.Client(timeout=httpx.Timeout(PUSH_TIMEOUT[1], connect=PUSH_TIMEOUT[0])) as client:
        response = client.post(args.url.rstrip("/") + "/data", content=_chunks(args.file, size, args.quiet),
                               headers={**headers, "Content-Length": str(size)})
    if not args.quiet:
        sys.stderr.write("\n")
    try:
        body = response.json()
    except ValueError:
        print(f"HTTP {response.status_code}: {response.text[:500]}")
        return 1
    print(f"HTTP {response.status_code}: {body.get('message')}")
    for issue in body.get("issues", {}).get("first", []):
        print(f"  {issue['code']} [{issue.get('where')}] {issue['message']}")
    if "submission" in body:
        print(f"report: {args.url.rstrip('/')}/submissions/{body['submission']}")
    return 0 if response.status_code == 200 else 1


def _chunks(path: Path, size: int, quiet: bool) -> Iterator[bytes]:
    sent = 0
    with path.open("rb") as handle:
        while chunk := handle.read(PUSH_CHUNK):
            sent += len(chunk)
            if not quiet:
                done = int(40 * sent / max(size, 1))
                sys.stderr.write(f"\r[{'#' * done}{'.' * (40 - done)}] {sent / 1e6:9.3f} / {size / 1e6:.3f} MB")
                sys.stderr.flush()
            yield chunk


def _token_create(args: argparse.Namespace) -> int:
    from exchange.auth import create_token
    with _local_hub() as hub:
        provider = args.provider.upper() if args.provider else None
        if provider is not None and provider not in hub.catalog.providers():
            print(f"unknown data provider {provider!r}: use an ISO alpha-3 code of UNECE:DATA_PROVIDERS",
                  file=sys.stderr)
            return 2
        with hub.engine.execution_options(write=True).begin() as conn:
            token_id, token = create_token(conn, provider=provider, admin=bool(args.admin), label=args.label)
        print(f"token {token_id} for {'administrator' if args.admin else 'data provider ' + str(provider)}:")
        print(token)
    return 0


def _token_revoke(args: argparse.Namespace) -> int:
    from exchange.auth import revoke_token
    with _local_hub() as hub:
        with hub.engine.execution_options(write=True).begin() as conn:
            count = revoke_token(conn, args.token)
    print("revoked" if count else "no such active token")
    return 0 if count else 1


def _print_rows(rows: list[dict[str, Any]], columns: list[str], as_csv: bool) -> None:
    import csv

    if as_csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
        return
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[k]) for r in cells]) for k, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row_cells in cells:
        print("  ".join(v.rjust(w) for v, w in zip(row_cells, widths, strict=True)))


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() and abs(value) >= 100 else f"{value:.4g}"
    if isinstance(value, list):
        return " ".join(value)
    return str(value)


def _mirror(args: argparse.Namespace) -> int:
    from exchange.api import stats
    with _local_hub() as hub:
        what = args.what
        if what == "pairs":
            body = stats.pairs(hub, period=[args.period], origin=args.origin, destination=args.destination,
                               region=args.region, basis=args.basis, both_only=args.both_only, flag=args.flag)
            if not isinstance(body, dict):  # 404: not a region
                print(json.loads(bytes(body.body))["message"], file=sys.stderr)
                return 1
            _print_rows(body["pairs"], ["origin", "destination", "period", "emigration_reported_by_origin",
                                        "immigration_reported_by_destination", "diff", "ratio_ei", "ln_ratio",
                                        "sym_pct", "flag", "origin_dur_crit", "destination_dur_crit"], args.csv)
        elif what == "coverage":
            result = stats.coverage(hub, country=args.country, period=args.period)
            _print_rows([result], ["country", "period", "emigration_coverage", "immigration_coverage",
                                   "emigration_partners", "immigration_partners"], args.csv)
        elif what == "estimate":
            result = stats.estimate(hub, country=args.country, period=args.period, duration_adjust=args.duration_adjust,
                                    gross_up=args.gross_up)
            _print_rows([result], ["country", "period", "estimate", "coverage", "estimate_grossed_up", "stock_period",
                                   "obs_status", "method"], args.csv)
            if not args.csv:
                print()
            _print_rows(result["partner_details"], ["partner", "basis", "proxy", "immigration", "dur_crit",
                                                    "coefficient", "contribution", "stock"], args.csv)
        else:
            handler = stats.factors if what == "factors" else stats.harmonised
            body = handler(hub, period=args.period, benchmark=args.benchmark, duration_adjust=args.duration_adjust)
            if not isinstance(body, dict):  # a 422 answer: the pair graph is not connected to the benchmark
                print(json.loads(bytes(body.body))["message"], file=sys.stderr)
                return 1
            if what == "factors":
                _print_rows(body["countries"], ["country", "imm_factor_r", "emi_factor_s", "se_ln_r", "se_ln_s"],
                            args.csv)
            else:
                _print_rows(body["flows"], ["origin", "destination", "period", "adj_imm", "adj_emi",
                                            "harmonised_flow"], args.csv)
    return 0


def _aggregate(args: argparse.Namespace) -> int:
    from exchange.api import stats
    with _local_hub() as hub:
        body = stats.aggregates(hub, region=args.region, flow=args.flow, period=args.period,
                                partner_scope=args.scope, min_coverage=args.min_coverage,
                                fill_from_mirror=args.fill_from_mirror)
        if not isinstance(body, dict):
            print(json.loads(bytes(body.body))["message"], file=sys.stderr)
            return 1
        _print_rows(body["totals"], ["region", "flow", "partner_scope", "period", "value", "members_reporting",
                                     "members_expected", "coverage", "obs_status", "missing"], args.csv)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from exchange.demo import messages_in_memory, write_messages

    if args.write:
        for path in write_messages(args.write):
            print(path)
        return 0
    if args.url:
        return _demo_remote(args, messages_in_memory())
    from exchange.body import spool
    from exchange.ingest import Principal

    with _local_hub() as hub:
        failures = 0
        for country, data in messages_in_memory():
            outcome = hub.ingestor.submit(spool([data], len(data) + 1), "application/xml",
                                          Principal(None, country, False))
            failures += outcome.status != 200
            print(f"{country}: HTTP {outcome.status} {outcome.body.get('message')}")
        _print_cases(hub)
    return 1 if failures else 0


def _print_cases(hub: Any) -> None:
    """How many reconciliation cases the pushes opened (issue #10); GET /reconciliations/summary has them all."""
    from sqlalchemy import func, select

    from exchange.store.tables import recon_case

    with hub.engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(recon_case)).scalar_one()
    print(f"reconciliation: {count} cases (GET /reconciliations/summary, exchange reconcile list)")


def _demo_remote(args: argparse.Namespace, messages: Iterator[tuple[str, bytes]]) -> int:
    import httpx

    if not args.token:
        print("--url needs --token (an administrator token)", file=sys.stderr)
        return 2
    failures = 0
    with httpx.Client(timeout=httpx.Timeout(PUSH_TIMEOUT[1], connect=PUSH_TIMEOUT[0])) as client:
        for country, data in messages:
            response = client.post(args.url.rstrip("/") + "/data", content=data, headers={
                "Authorization": f"Bearer {args.token}", "Content-Type": "application/xml"})
            failures += response.status_code != 200
            print(f"{country}: HTTP {response.status_code} {response.json().get('message')}")
    return 1 if failures else 0


if __name__ == "__main__":
    main()
