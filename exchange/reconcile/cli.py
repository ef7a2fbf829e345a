"""``exchange reconcile list|show|request|ack|explain|close|comment``: the case API over HTTP (issue #10).

Like ``exchange push`` it talks to a running hub (``--url --token``); tables are printed with rich.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

LIST_COLUMNS = ("id", "origin", "destination", "breakdown", "basis", "state", "kind", "reason", "updated_at")
PERIOD_COLUMNS = ("period", "state", "rule", "e_open", "i_open", "e_now", "i_now", "flag_now", "e_dur_crit",
                  "i_dur_crit")


def add_parser(sub: Any) -> None:
    reconcile = sub.add_parser("reconcile", help="reconciliation cases on a running hub (list, show, act)")
    actions = reconcile.add_subparsers(metavar="ACTION")

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = actions.add_parser(name, help=help_text)
        parser.add_argument("--url", required=True, help="the hub's base URL, e.g. http://127.0.0.1:8000")
        parser.add_argument("--token", required=True)
        return parser

    listing = action("list", "the cases your token may read")
    listing.add_argument("--state")
    listing.add_argument("--partner")
    listing.add_argument("--period")
    listing.set_defaults(run=_list)
    show = action("show", "a case: periods, suggestions and timeline")
    show.add_argument("case", type=int)
    show.add_argument("--json", action="store_true", help="print the whole answer as JSON")
    show.set_defaults(run=_show)
    request = action("request", "ask a partner to check a pair (or send data it has not reported)")
    request.add_argument("origin")
    request.add_argument("destination")
    request.add_argument("--period", action="append", dest="periods", help="a period (repeatable; default: latest)")
    request.add_argument("--data", action="store_true", help="a data request for the periods the partner lacks")
    request.add_argument("--text")
    request.set_defaults(run=_request)
    for name, help_text in (("ack", "acknowledge a case"), ("close", "agree to close an explained case")):
        simple = action(name, help_text)
        simple.add_argument("case", type=int)
        simple.set_defaults(run=_simple, action=name)
    explain = action("explain", "explain a case with a reason code of UNECE:CL_RECON_REASON")
    explain.add_argument("case", type=int)
    explain.add_argument("reason")
    explain.add_argument("--text")
    explain.add_argument("--period", action="append", dest="periods")
    explain.set_defaults(run=_explain)
    comment = action("comment", "comment on a case")
    comment.add_argument("case", type=int)
    comment.add_argument("text")
    comment.set_defaults(run=_comment)


def _call(args: argparse.Namespace, method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    import httpx

    with httpx.Client(base_url=args.url.rstrip("/"), timeout=60,
                      headers={"Authorization": f"Bearer {args.token}"}) as client:
        response = client.request(method, path, **kwargs)
    try:
        body = response.json()
    except ValueError:
        body = {"message": response.text[:500]}
    if response.status_code >= 400:
        print(f"HTTP {response.status_code}: {body.get('message', body)}")
    return response.status_code, body


def _table(title: str, rows: list[dict[str, Any]], columns: tuple[str, ...]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*["-" if row.get(c) is None else str(row.get(c)) for c in columns])
    Console().print(table)


def _list(args: argparse.Namespace) -> int:
    params = {k: v for k, v in {"state": args.state, "partner": args.partner, "period": args.period}.items() if v}
    status, body = _call(args, "GET", "/reconciliations", params=params)
    if status != 200:
        return 1
    _table(f"{body['total']} cases", body["items"], LIST_COLUMNS)
    return 0


def _show(args: argparse.Namespace) -> int:
    status, body = _call(args, "GET", f"/reconciliations/{args.case}")
    if status != 200:
        return 1
    if args.json:
        print(json.dumps(body, indent=2))
        return 0
    print(f"case {body['id']}: {body['origin']} -> {body['destination']} ({body['breakdown']}, {body['basis']}) "
          f"{body['state']}; allowed: {', '.join(body['allowed_actions'])}")
    _table("periods", body["periods"], PERIOD_COLUMNS)
    for suggestion in body.get("evidence", {}).get("suggestions", []):
        print(f"suggestion {suggestion['suggestion']} ({suggestion['period']}): {json.dumps(suggestion['figures'])}")
    _table("timeline", body["timeline"], ("at", "actor", "action", "submission", "reason", "text"))
    return 0


def _done(status: int, body: dict[str, Any]) -> int:
    if status >= 400:
        return 1
    print(f"case {body['id']}: {body['state']}")
    return 0


def _request(args: argparse.Namespace) -> int:
    payload = {"origin": args.origin, "destination": args.destination, "periods": args.periods, "data": args.data,
               "text": args.text}
    return _done(*_call(args, "POST", "/reconciliations", json=payload))


def _simple(args: argparse.Namespace) -> int:
    return _done(*_call(args, "POST", f"/reconciliations/{args.case}/{args.action}"))


def _explain(args: argparse.Namespace) -> int:
    payload = {"reason": args.reason, "text": args.text, "periods": args.periods}
    return _done(*_call(args, "POST", f"/reconciliations/{args.case}/explain", json=payload))


def _comment(args: argparse.Namespace) -> int:
    return _done(*_call(args, "POST", f"/reconciliations/{args.case}/comment", json={"text": args.text}))
