"""Parsers: a byte stream in, ``Obs`` rows out. They know wire formats and nothing of DSD rules or the store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import BinaryIO

from exchange.media import Format
from exchange.parse import sdmxcsv, sdmxjson, sdmxml
from exchange.rows import Obs

Parser = Callable[[BinaryIO], Iterator[Obs]]

PARSERS: dict[str, Parser] = {
    "sdmx-ml": sdmxml.parse,
    "sdmx-csv": sdmxcsv.parse,
    "sdmx-json": sdmxjson.parse,
}


def parser_for(fmt: Format) -> Parser:
    return PARSERS[fmt.family]
