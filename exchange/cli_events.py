"""Command line for events (issue #10): ``exchange subscribe add|list|remove|deliveries|redeliver`` and
``exchange events`` over HTTP (``--url --token``, like ``exchange push``), and ``exchange contact set`` on the
local database (like ``exchange token``)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

TIMEOUT = 60.0


def add_commands(sub: Any) -> None:
    """Register the event commands on the main parser's subcommands."""
    subscribe = sub.add_parser("subscribe", help="webhook subscriptions on a running hub")
    actions = subscribe.add_subparsers(metavar="ACTION")
    add = _remote(actions.add_parser("add", help="subscribe a URL; prints the signing secret (shown once)"))
    add.add_argument("target", help="the receiving URL, e.g. https://stat.example/hooks/exchange")
    add.add_argument("--type", action="append", required=True, dest="types", help="an event type (repeatable)")
    add.add_argument("--dataflow", help="only events of this dataflow, e.g. UNECE:MIGR_FLOW(1.0)")
    add.add_argument("--partner", help="only events that also concern this provider")
    add.set_defaults(run=_add)
    _remote(actions.add_parser("list", help="your subscriptions")).set_defaults(run=_list)
    for name, help_text, run in (("remove", "remove a subscription (its log is kept)", _remove),
                                 ("deliveries", "a subscription's delivery log, newest first", _deliveries)):
        command = _remote(actions.add_parser(name, help=help_text))
        command.add_argument("id")
        command.set_defaults(run=run)
    again = _remote(actions.add_parser("redeliver", help="deliver an event to a subscription again"))
    again.add_argument("id")
    again.add_argument("event")
    again.set_defaults(run=_redeliver)

    events = _remote(sub.add_parser("events", help="print the event feed (JSON lines); --follow keeps waiting"))
    events.add_argument("--after", help="the cursor to start after (default: the beginning)")
    events.add_argument("--type", action="append", dest="types")
    events.add_argument("--follow", action="store_true", help="long-poll for new events until interrupted")
    events.set_defaults(run=_events)

    contact = sub.add_parser("contact", help="providers' e-mail contact addresses (local database)")
    contact_actions = contact.add_subparsers(metavar="ACTION")
    set_contact = contact_actions.add_parser("set", help="set the address that receives a provider's notifications")
    set_contact.add_argument("provider")
    set_contact.add_argument("email")
    set_contact.set_defaults(run=_contact_set)


def _remote(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--url", required=True, help="the hub's base URL, e.g. http://127.0.0.1:8000")
    parser.add_argument("--token", required=True)
    return parser


def _call(args: argparse.Namespace, method: str, path: str, **kwargs: Any) -> Any:
    import httpx

    with httpx.Client(base_url=args.url.rstrip("/"), timeout=TIMEOUT,
                      headers={"Authorization": f"Bearer {args.token}"}) as client:
        return client.request(method, path, **kwargs)


def _show(response: Any, ok: int = 200) -> int:
    if response.status_code == 204:
        print("done")
        return 0
    try:
        print(json.dumps(response.json(), indent=2, sort_keys=True))
    except ValueError:
        print(f"HTTP {response.status_code}: {response.text[:500]}")
    return 0 if response.status_code == ok else 1


def _add(args: argparse.Namespace) -> int:
    body = {"url": args.target, "event_types": args.types, "dataflow": args.dataflow, "partner": args.partner}
    return _show(_call(args, "POST", "/subscriptions", json=body), 201)


def _list(args: argparse.Namespace) -> int:
    return _show(_call(args, "GET", "/subscriptions"))


def _remove(args: argparse.Namespace) -> int:
    return _show(_call(args, "DELETE", f"/subscriptions/{args.id}"), 204)


def _deliveries(args: argparse.Namespace) -> int:
    return _show(_call(args, "GET", f"/subscriptions/{args.id}/deliveries"))


def _redeliver(args: argparse.Namespace) -> int:
    return _show(_call(args, "POST", f"/subscriptions/{args.id}/deliveries/{args.event}/redeliver"), 202)


def _events(args: argparse.Namespace) -> int:
    after = args.after
    while True:
        params: dict[str, Any] = {"type": args.types or [], "wait": 30 if args.follow else 0}
        if after:
            params["after"] = after
        response = _call(args, "GET", "/events", params=params)
        if response.status_code != 200:
            return _show(response)
        page = response.json()
        for event in page["events"]:
            print(json.dumps(event, sort_keys=True), flush=True)
        after = page["next"]
        if not page["events"] and not args.follow:
            return 0


def _contact_set(args: argparse.Namespace) -> int:
    from exchange.api.events import Refused, save_contact
    from exchange.cli import _local_hub

    with _local_hub() as hub:
        try:
            save_contact(hub, args.provider, args.email)
        except Refused as exc:
            print(exc, file=sys.stderr)
            return 2
    print(f"contact of {args.provider}: {args.email}")
    return 0
