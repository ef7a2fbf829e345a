"""SDMX time periods: parse any accepted form, normalise it and give its start and end dates.

SDMX-ML ``ObservationalTimePeriodType`` (SDMXCommon.xsd) admits Gregorian periods (``2020``,
``2020-01``, ``2020-01-15``), reporting periods (``2020-A1``, ``2020-S1``, ``2020-T1``, ``2020-Q1``,
``2020-M01``, ``2020-W01``, ``2020-D001``) and date-times. ``2020-01`` and ``2020-M01`` are the same
month and ``2020`` and ``2020-A1`` the same year (sdmx-standard.md section 2, "Time"): the hub stores the
canonical form below so duplicate detection and range queries compare like with like.

Canonical forms: A ``YYYY``; S ``YYYY-Sn``; T ``YYYY-Tn``; Q ``YYYY-Qn``; M ``YYYY-MM``; W ``YYYY-Www``;
D ``YYYY-MM-DD``.
"""

from __future__ import annotations

import calendar
import functools
import re
from datetime import date, timedelta
from typing import NamedTuple


class Period(NamedTuple):
    freq: str  # the frequency the period's form implies: A S T Q M W D
    canonical: str
    start: str  # ISO date of the first day
    end: str  # ISO date of the last day


_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^(\d{4})(?:-A1)?$"), "A"),
    (re.compile(r"^(\d{4})-S([12])$"), "S"),
    (re.compile(r"^(\d{4})-T([1-3])$"), "T"),
    (re.compile(r"^(\d{4})-Q([1-4])$"), "Q"),
    (re.compile(r"^(\d{4})-M?(0[1-9]|1[0-2])$"), "M"),
    (re.compile(r"^(\d{4})-W(0[1-9]|[1-4]\d|5[0-3])$"), "W"),
    (re.compile(r"^(\d{4})-(\d{2})-(\d{2})$"), "D"),
    (re.compile(r"^(\d{4})-D(\d{3})$"), "DOY"),
]


def _month_span(year: int, first: int, months: int) -> tuple[date, date]:
    last = first + months - 1
    return date(year, first, 1), date(year, last, calendar.monthrange(year, last)[1])


@functools.lru_cache(maxsize=8192)
def parse_period(text: str) -> Period | None:
    """Parse an SDMX time period; None when it is not one the hub accepts.

    >>> parse_period("2020-M01") == parse_period("2020-01")
    True
    >>> parse_period("2020-A1").canonical
    '2020'
    >>> parse_period("2020-Q3")[2:]
    ('2020-07-01', '2020-09-30')
    """
    for pattern, kind in _PATTERNS:
        match = pattern.match(text)
        if match is None:
            continue
        try:
            return _build(kind, match.groups())
        except ValueError:  # e.g. 2021-02-30, week 53 of a 52-week year
            return None
    return None


def _build(kind: str, groups: tuple[str, ...]) -> Period:
    year = int(groups[0])
    if kind == "A":
        return Period("A", f"{year:04d}", f"{year:04d}-01-01", f"{year:04d}-12-31")
    if kind in ("S", "T", "Q"):
        n = int(groups[1])
        size = {"S": 6, "T": 4, "Q": 3}[kind]
        start, end = _month_span(year, (n - 1) * size + 1, size)
        return Period(kind, f"{year:04d}-{kind}{n}", start.isoformat(), end.isoformat())
    if kind == "M":
        start, end = _month_span(year, int(groups[1]), 1)
        return Period("M", f"{year:04d}-{groups[1]}", start.isoformat(), end.isoformat())
    if kind == "W":
        week = int(groups[1])
        start = date.fromisocalendar(year, week, 1)
        return Period("W", f"{year:04d}-W{week:02d}", start.isoformat(), (start + timedelta(days=6)).isoformat())
    if kind == "D":
        day = date(year, int(groups[1]), int(groups[2]))
        return Period("D", day.isoformat(), day.isoformat(), day.isoformat())
    day = date(year, 1, 1) + timedelta(days=int(groups[1]) - 1)
    if int(groups[1]) < 1 or day.year != year:
        raise ValueError("day of year out of range")
    return Period("D", day.isoformat(), day.isoformat(), day.isoformat())
