"""One webhook delivery attempt: a signed POST (Standard Webhooks) to an address checked against SSRF at this
very moment, without following redirects and without reading the receiver's answer beyond its status."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import httpx

from exchange.events.signing import headers
from exchange.events.ssrf import Target, UnsafeUrl, resolve

USER_AGENT = "exchange-webhooks/1"


@dataclass(frozen=True)
class Attempt:
    """How one attempt went: ``ok`` for a 2xx answer."""

    ok: bool
    status: int | None = None
    error: str | None = None


def body(uid: str, type_: str, occurred_at: str, data: dict[str, Any]) -> bytes:
    """The Standard Webhooks payload shape: ``{"type", "timestamp", "data"}`` (the event id travels in webhook-id)."""
    return json.dumps({"type": type_, "timestamp": occurred_at, "data": {"id": uid, **data}},
                      sort_keys=True).encode()


def post(url: str, secret: str, uid: str, payload: bytes, *, timeout: float, allow_private: bool) -> Attempt:
    try:
        target = resolve(url, allow_private)
    except UnsafeUrl as exc:
        return Attempt(False, None, f"refused: {exc}")
    signed = headers(secret, uid, int(time.time()), payload)
    try:
        with httpx.Client(follow_redirects=False, timeout=timeout, trust_env=False) as client:
            request = client.build_request("POST", _pinned(target), content=payload, headers={
                **signed, "Host": target.url.netloc, "Content-Type": "application/json", "User-Agent": USER_AGENT},
                extensions={"sni_hostname": target.host} if target.url.scheme == "https" else {})
            response = client.send(request, stream=True)
            response.close()
    except httpx.HTTPError as exc:
        return Attempt(False, None, f"{type(exc).__name__}: {exc}"[:500])
    if 200 <= response.status_code < 300:
        return Attempt(True, response.status_code)
    return Attempt(False, response.status_code, f"the receiver answered HTTP {response.status_code}")


def _pinned(target: Target) -> str:
    """The URL with its host replaced by the address that was checked (no second, different DNS answer)."""
    address = f"[{target.address}]" if ":" in target.address else target.address
    path = target.url.path or "/"
    query = f"?{target.url.query}" if target.url.query else ""
    return f"{target.url.scheme}://{address}:{target.port}{path}{query}"
