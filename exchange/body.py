"""Request bodies: spool to disk while hashing and capping, then read back (gunzipped) with a size cap."""

from __future__ import annotations

import gzip
import hashlib
import io
import tempfile
import zlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import IO, BinaryIO

from exchange.rows import MessageError

GZIP_MAGIC = b"\x1f\x8b"


def too_large(limit: int) -> MessageError:
    return MessageError("TOO_LARGE", f"The message is larger than the hub accepts ({limit} bytes).",
                        "Split the message into several pushes (e.g. one per year or per partner group), or ask the "
                        "hub administrator to raise EXCHANGE_MAX_UPLOAD_BYTES.", status=413)


@dataclass
class Body:
    file: IO[bytes]
    sha256: str
    size: int

    def close(self) -> None:
        self.file.close()


class _Spooler:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            self.file.close()
            raise too_large(self.limit)
        self.digest.update(chunk)
        self.file.write(chunk)

    def done(self) -> Body:
        self.file.seek(0)
        return Body(self.file, self.digest.hexdigest(), self.size)


def spool(chunks: Iterable[bytes], limit: int) -> Body:
    spooler = _Spooler(limit)
    for chunk in chunks:
        spooler.write(chunk)
    return spooler.done()


async def spool_async(chunks: AsyncIterator[bytes], limit: int) -> Body:
    spooler = _Spooler(limit)
    async for chunk in chunks:
        spooler.write(chunk)
    return spooler.done()


class _Capped(io.RawIOBase):
    """A readable stream that fails with 413 past ``limit`` bytes (guards against gzip bombs)."""

    def __init__(self, raw: BinaryIO, limit: int) -> None:
        self.raw = raw
        self.limit = limit
        self.read_so_far = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        try:
            data = self.raw.read(len(buffer))
        except (OSError, EOFError, zlib.error) as exc:
            raise MessageError("BAD_COMPRESSION", f"The gzip stream is corrupt or truncated ({exc}).",
                               "Send the file again; check that it was compressed completely.") from exc
        self.read_so_far += len(data)
        if self.read_so_far > self.limit:
            raise too_large(self.limit)
        buffer[: len(data)] = data
        return len(data)


def open_decoded(body: Body, limit: int) -> io.BufferedReader:
    """The message bytes: gunzipped when the body is gzip (Content-Encoding or magic number), capped at ``limit``."""
    body.file.seek(0)
    head = body.file.read(2)
    body.file.seek(0)
    raw: BinaryIO = body.file  # type: ignore[assignment]
    if head == GZIP_MAGIC:
        raw = gzip.GzipFile(fileobj=body.file, mode="rb")  # type: ignore[assignment]
    return io.BufferedReader(_Capped(raw, limit), buffer_size=256 * 1024)


def peek(stream: io.BufferedReader, size: int = 4096) -> bytes:
    return stream.peek(size)[:size]
