"""Compressed inputs (.gz, .zst) read so that damage is never taken for the end of the text.

A stream that is corrupt, or that ends before its end-of-stream marker (a download or a copy
cut short), is a one-line error naming the file and the compressed byte offset, as broken UTF-8
is in `tinylm.data.readers`; every reader of user files opens them through `open_binary`.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import IO

from tinylm.errors import TinylmError

COMPRESSIONS = {".gz": "gzip", ".zst": "zstd", ".zstd": "zstd"}


def detect_compression(path: Path) -> str | None:
    return COMPRESSIONS.get(path.suffix.lower())


def open_binary(path: Path) -> IO[bytes]:
    """The file's bytes, decompressed on the fly for .gz / .zst (`CheckedDecompression`)."""
    compression = detect_compression(path)
    if compression is None:
        return open(path, "rb")
    return io.BufferedReader(CheckedDecompression(path, compression), buffer_size=1 << 20)


class CheckedDecompression(io.RawIOBase):
    """The decompressed bytes of a .gz or .zst file, read through the codec's own stream state,
    so that damage is never taken for the end of the text: a corrupt stream, or one that ends
    before its end-of-stream marker (a download or a copy cut short), is a one-line error naming
    the file and the compressed byte offset, as broken UTF-8 is. Concatenated members (gzip)
    and frames (zstd) are read one after another."""

    CHUNK = 1 << 20

    def __init__(self, path: Path, kind: str) -> None:
        self.path, self.kind = path, kind
        if kind == "zstd":
            try:
                import zstandard
            except ImportError:
                raise TinylmError(
                    f"{path} is zstd-compressed; install zstandard (pip install zstandard)"
                ) from None
            self._zstd = zstandard
        self.raw = open(path, "rb")  # noqa: SIM115 - closed with this stream
        self.offset = 0  # compressed bytes consumed
        self.pending = b""
        self.decoder = self._decoder()
        self.started = False  # the current member/frame has begun
        self.finished = False

    def _decoder(self) -> object:
        if self.kind == "gzip":
            import zlib

            return zlib.decompressobj(wbits=31)  # gzip header and trailer, checked
        return self._zstd.ZstdDecompressor().decompressobj()

    def _damaged(self, why: str) -> TinylmError:
        return TinylmError(
            f"{self.path}: the {self.kind} stream {why} at compressed byte {self.offset:,}; "
            "the file is damaged or was cut short: download or compress it again"
        )

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        while not self.pending and not self.finished:
            self._fill()
        n = min(len(buffer), len(self.pending))
        buffer[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n

    def _fill(self) -> None:
        import zlib

        chunk = self.raw.read(self.CHUNK)
        if not chunk:
            if self.started:
                raise self._damaged("ends before its end-of-stream marker")
            self.finished = True
            return
        errors = (zlib.error,) if self.kind == "gzip" else (self._zstd.ZstdError,)
        while chunk:
            if not self.started and not chunk.strip(b"\0"):
                self.offset += len(chunk)  # padding after the last member (tar, dd)
                return
            try:
                out = self.decoder.decompress(chunk)  # type: ignore[attr-defined]
            except errors as exc:
                if not self.offset and not self.started:
                    suffix = "".join(self.path.suffixes[-1:])
                    raise TinylmError(
                        f"{self.path} is not {self.kind}-compressed ({exc}), although its name "
                        f"ends in {suffix}; rename or compress it"
                    ) from None
                raise self._damaged(f"is not valid ({exc})") from None
            self.started = True
            self.pending += out
            if not self.decoder.eof:  # type: ignore[attr-defined]
                self.offset += len(chunk)
                return
            rest = self.decoder.unused_data  # type: ignore[attr-defined]
            self.offset += len(chunk) - len(rest)
            self.decoder, self.started, chunk = self._decoder(), False, rest

    def close(self) -> None:
        self.raw.close()
        super().close()
