"""E-mail notifications: a plain-text message per event type that a person can act on (what happened, what
differs and by how much, the link), sent to a provider's contact address over SMTP (RFC 5321; STARTTLS, RFC 3207)."""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

from exchange.events.outbox import EVENT_TYPES
from exchange.events.webhook import Attempt
from exchange.settings import Settings

FOOTER = ("\n--\nSent by the exchange hub to the contact address of {provider}. Event {uid} ({type}).\n"
          "The same events are in the feed (GET /events) and can be received as webhooks (POST /subscriptions).\n")


def compose(type_: str, uid: str, provider: str, payload: dict[str, Any], base: str = "") -> tuple[str, str]:
    """(subject, body) of the message about one event; relative links are made absolute with ``base``."""
    if type_.startswith("case."):
        subject, lines = _case(type_, payload, base)
    else:
        subject, lines = WRITERS.get(type_, _generic)(payload)
    return f"[exchange] {subject}", "\n".join(lines) + FOOTER.format(provider=provider, uid=uid, type=type_)


def _accepted(p: dict[str, Any]) -> tuple[str, list[str]]:
    lines = [f"Your submission {p.get('submission')} was accepted.", "", p.get("message", ""), ""]
    for d in p.get("datasets", []):
        lines.append(f"- {d.get('structure')}: {d.get('inserted')} new, {d.get('replaced')} revised, "
                     f"{d.get('deleted')} deleted, {d.get('unchanged')} unchanged")
    return "Submission accepted", [*lines, "", f"Report: {p.get('links', {}).get('submission')}"]


def _rejected(p: dict[str, Any]) -> tuple[str, list[str]]:
    lines = [f"Your submission {p.get('submission')} was rejected (HTTP {p.get('status')}); nothing was stored.", "",
             p.get("message", ""), "", "First issues - fix them and push the message again:"]
    for issue in p.get("first_issues", []):
        lines.append(f"- {issue.get('code')} at {issue.get('where') or 'the message'}: {issue.get('message')}")
        if issue.get("fix"):
            lines.append(f"  How to fix: {issue['fix']}")
    return "Submission rejected", [*lines, "", f"Complete report: {p.get('links', {}).get('issues')}"]


def _partner_revised(p: dict[str, Any]) -> tuple[str, list[str]]:
    lines = [f"A partner revised data that mirrors yours (submission {p.get('submission')} by {p.get('provider')}).",
             ""]
    for c in p.get("changes", []):
        before, after = c.get("total_before"), c.get("total_after")
        delta = f"{after - before:+g}" if isinstance(before, int | float) and isinstance(after, int | float) else "n/a"
        lines += [f"- {c.get('reporter')} {c.get('flow')} with {c.get('partner')}, periods {c.get('first_period')} to "
                  f"{c.get('last_period')}: {c.get('observations')} observations revised ({c.get('deleted')} deleted); "
                  f"total before {before}, after {after} (difference {delta}).",
                  f"  Their revised data: {c.get('links', {}).get('revised_data')}",
                  f"  Your mirror data to compare: {c.get('links', {}).get('your_data')}"]
    return f"{p.get('provider')} revised data mirroring yours", [*lines, "",
                                                                   "Check whether your figures still agree."]


def _structure(p: dict[str, Any]) -> tuple[str, list[str]]:
    lines = ["An administrator registered shared structures; data for them can be pushed now.", ""]
    lines += [f"- {urn}: {link}" for urn, link in p.get("links", {}).items()]
    return "Structures registered", lines


def _disabled(p: dict[str, Any]) -> tuple[str, list[str]]:
    return "Webhook subscription disabled", [
        f"Your webhook subscription {p.get('subscription')} to {p.get('url')} was disabled: {p.get('reason')}",
        "", "Fix the receiver, then subscribe again (POST /subscriptions); missed events are in GET /events."]


def _generic(p: dict[str, Any]) -> tuple[str, list[str]]:
    lines = [f"{k}: {v}" for k, v in sorted(p.items()) if not isinstance(v, dict | list)]
    lines += [f"{k}: {v}" for k, v in sorted(p.get("links", {}).items())]
    return str(p.get("summary") or p.get("title") or "Notification"), lines


CASE_ACTIONS = {
    "case.opened": "was opened: your figures and your partner's disagree beyond the reconciliation policy",
    "case.acknowledged": "was acknowledged by {by}", "case.explained": "was explained by {by} ({reason})",
    "case.revised": "was revised by submission {submission}", "case.resolved": "is resolved: every period is "
    "now within the policy or explained", "case.reopened": "was reopened: a revision moved a period out of policy",
    "case.closed": "is closed: the difference is explained and accepted", "case.commented": "has a comment by {by}",
}


def _case(type_: str, p: dict[str, Any], base: str) -> tuple[str, list[str]]:
    """A case event: the pair, what happened, each period's E and I with the difference, and where to act."""
    origin, destination = p.get("origin"), p.get("destination")
    action = CASE_ACTIONS.get(type_, type_).format_map(_Blank(p))
    lines = [f"Reconciliation case {p.get('case')} ({origin} -> {destination}, {p.get('dataflow')}, breakdown "
             f"{p.get('breakdown')}, basis {p.get('basis')}) {action}.", ""]
    periods = p.get("periods") if isinstance(p.get("periods"), dict) else p.get("after")
    for period, values in sorted((periods or {}).items()):
        if isinstance(values, dict) and "E" in values:
            lines.append(_period_line(str(period), origin, destination, values))
    if isinstance(p.get("periods"), list):  # an explanation names the periods it covers
        lines.append(f"Periods: {', '.join(map(str, p['periods']))}")
    if p.get("text"):
        lines += ["", f"Text: {p['text']}"]
    links = p.get("links", {})
    lines += ["", f"The case, its evidence and the actions you may take: {_absolute(base, links.get('case'))}"]
    for name in ("emigration_by_origin", "immigration_by_destination"):
        if links.get(name):
            lines.append(f"{name.replace('_', ' ').capitalize()}: {_absolute(base, links[name])}")
    return f"Case {p.get('case')} {origin}->{destination}: {type_.split('.', 1)[1]}", lines


def _period_line(period: str, origin: Any, destination: Any, v: dict[str, Any]) -> str:
    e, i = v.get("E"), v.get("I")
    e_text = "not reported" if e is None else f"{e:g}"
    i_text = "not reported" if i is None else f"{i:g}"
    line = f"- {period}: {origin} reported {e_text} emigrants to {destination}; {destination} reported {i_text} " \
           f"immigrants from {origin}"
    if isinstance(e, int | float) and isinstance(i, int | float):
        line += f"; difference I-E {i - e:+g}" + (f", I/E {i / e:.2f}" if e else "")
    return line + (f"; flag {v['flag']}" if v.get("flag") else "") + (f"; {v['state']}" if v.get("state") else "")


def _absolute(base: str, link: Any) -> str:
    text = str(link or "")
    return base + text if text.startswith("/") else text


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "?"


WRITERS: dict[str, Callable[[dict[str, Any]], tuple[str, list[str]]]] = {
    "submission.accepted": _accepted, "submission.rejected": _rejected, "data.partner_revised": _partner_revised,
    "structure.registered": _structure, "subscription.disabled": _disabled,
}
assert set(WRITERS) <= set(EVENT_TYPES)


def send(settings: Settings, to: str, subject: str, text: str) -> Attempt:
    """One SMTP attempt; a refusal or a connection error is a failed attempt (retried as webhooks are)."""
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = settings.smtp_from, to, subject
    message.set_content(text)
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.webhook_timeout_s) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password.get_secret_value())
            smtp.send_message(message)
    except smtplib.SMTPResponseException as exc:
        return Attempt(False, exc.smtp_code, f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"[:500])
    except (OSError, smtplib.SMTPException) as exc:
        return Attempt(False, None, f"{type(exc).__name__}: {exc}"[:500])
    return Attempt(True, 250)
