"""Reading an offline-database file as a stream of records.

Both shapes of the source are read one record at a time, never the whole document:

- minified JSON ``{"$schema", "license", ..., "data": [record, ...]}`` through ijson's
  event stream (records are built one by one, the header keys are collected on the way);
- JSONL: line 1 is the header, then one record per line.

Either may be zstd-compressed (``.zst``, recognised by its magic number). Compressed
input is checked frame by frame: a truncated ``.zst`` is an error, not a short file.

Two kinds of failure are kept apart:

- a structurally broken file (truncated, not JSON, wrong root, no ``data`` array,
  invalid header) raises :class:`BrokenSource` from iteration. Callers read the whole
  file before writing anything, so such a file writes nothing;
- a record that is JSON but not a valid offline record is yielded as an
  :class:`InvalidRecord` with its position, and the caller skips it.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

import ijson
import zstandard
from pydantic import ValidationError

from avs_shared.errors import Permanent
from avs_shared.schema import OfflineDatabaseHeader, OfflineRecord

Format = Literal["json", "jsonl"]
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_CHUNK = 256 * 1024
_SNIFF = 1024 * 1024


class BrokenSource(Permanent):
    """The file is not a complete offline database; nothing may be written from it."""


@dataclass(frozen=True)
class InvalidRecord:
    """A record that is JSON but fails validation: skipped and reported."""

    position: int
    """1-based number of the record in the file (``data[position - 1]``)."""
    line: int | None
    """Line of the JSONL file (None for minified JSON)."""
    error: str

    def where(self) -> str:
        at = f"record #{self.position}"
        return f"{at} (line {self.line})" if self.line is not None else f"{at} (data[{self.position - 1}])"


@dataclass(frozen=True)
class ValidRecord:
    position: int
    line: int | None
    raw: dict[str, Any]
    record: OfflineRecord


Progress = Callable[[int, int], None]
"""``(bytes read, total bytes)`` of the file on disk (compressed bytes for ``.zst``)."""


def is_zstd(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(4) == ZSTD_MAGIC


def detect_format(path: Path, name: str | None = None) -> Format:
    """JSON or JSONL: from the name (``.json``/``.jsonl``, with or without ``.zst``), else
    by sniffing the first line (JSONL's is a complete header object without ``data``)."""
    stem = (name or path.name).lower().removesuffix(".zst")
    if stem.endswith(".jsonl"):
        return "jsonl"
    if stem.endswith(".json"):
        return "json"
    with open_decompressed(path) as fh:
        head = fh.read(_SNIFF)
    first, newline, _ = head.partition(b"\n")
    if newline:
        try:
            doc = json.loads(first)
        except ValueError:
            return "json"
        if isinstance(doc, dict) and "data" not in doc:
            return "jsonl"
    return "json"


def open_decompressed(path: Path, progress: Progress | None = None) -> IO[bytes]:
    """The file's bytes, decompressed when it is zstd; ``progress`` sees raw bytes read."""
    zstd = is_zstd(path)
    raw: io.RawIOBase = _Counting(path.open("rb"), path.stat().st_size, progress)
    if zstd:
        raw = _ZstdReader(raw)
    return io.BufferedReader(raw, buffer_size=_CHUNK)


def read_records(
    path: Path, fmt: Format, *, progress: Progress | None = None
) -> Iterator[ValidRecord | InvalidRecord | OfflineDatabaseHeader]:
    """Every record of the file in order, then the validated header last.

    Raises
    ------
    BrokenSource
        Structural damage, found while iterating (so possibly after many records):
        consume the whole iterator before acting on any record.
    """
    with open_decompressed(path, progress) as fh:
        if fmt == "jsonl":
            yield from _jsonl(fh)
        else:
            yield from _json(fh)


# ----------------------------------------------------------------------------- JSONL
def _jsonl(fh: IO[bytes]) -> Iterator[ValidRecord | InvalidRecord | OfflineDatabaseHeader]:
    first = fh.readline()
    if not first.strip():
        raise BrokenSource("the JSONL file is empty: line 1 must be the header (metadata) object")
    header_doc = _json_line(first, 1)
    if not isinstance(header_doc, dict) or "data" in header_doc:
        raise BrokenSource(
            "line 1 of a JSONL file must be the header object without `data`; "
            "is this the minified JSON file? (name it .json)"
        )
    header = _header(header_doc)
    position = 0
    for number, line in enumerate(fh, start=2):
        if not line.strip():
            continue
        if not line.endswith(b"\n"):
            # The last line of a complete file may lack its newline, but then it must parse.
            doc = _json_line(line, number, last=True)
        else:
            doc = _json_line(line, number)
        position += 1
        yield _validate(doc, position, number)
    yield header


def _json_line(line: bytes, number: int, *, last: bool = False) -> Any:
    try:
        return json.loads(line)
    except ValueError as exc:
        hint = " (the file looks truncated)" if last else ""
        raise BrokenSource(f"line {number} is not JSON{hint}: {exc}") from exc


# ----------------------------------------------------------------------------- minified JSON
class _Header:
    """Collects the root's keys other than ``data`` from the event stream."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.saw_data = False
        self._builder: Any = None
        self._key: str | None = None

    def watch(self, events: Iterator[tuple[str, str, Any]]) -> Iterator[tuple[str, str, Any]]:
        first = True
        for prefix, event, value in events:
            if first:
                first = False
                if event != "start_map":
                    kind = {"start_array": "an array"}.get(event, f"a {event}")
                    raise BrokenSource(
                        f"the root is {kind}, not an object with `data` (is this an offline database?)"
                    )
            if prefix == "" and event == "map_key":
                self._key = str(value)
                self._builder = None
                if value == "data":
                    self.saw_data = True
                else:
                    self._builder = ijson.ObjectBuilder()
            elif self._builder is not None:
                self._builder.event(event, value)
                if prefix == self._key and event not in ("start_map", "start_array", "map_key"):
                    # A scalar value, or the end of this key's object/array.
                    if event in ("end_map", "end_array") or not self._builder.containers:
                        self.values[str(self._key)] = self._builder.value
                        self._builder = None
            elif prefix == "data" and event not in ("start_array", "end_array"):
                raise BrokenSource("`data` must be an array of records")
            yield prefix, event, value


def _json(fh: IO[bytes]) -> Iterator[ValidRecord | InvalidRecord | OfflineDatabaseHeader]:
    header = _Header()
    position = 0
    events = header.watch(ijson.parse(fh, use_float=True))
    try:
        for doc in ijson.items(events, "data.item"):
            position += 1
            yield _validate(doc, position, None)
    except ijson.JSONError as exc:
        raise BrokenSource(
            f"the JSON is malformed or truncated after record #{position}: {exc}; download it again"
        ) from exc
    if not header.saw_data:
        raise BrokenSource("the root object has no `data` array (is this an offline database?)")
    yield _header(header.values)


# ----------------------------------------------------------------------------- validation
def _header(doc: dict[str, Any]) -> OfflineDatabaseHeader:
    try:
        return OfflineDatabaseHeader.from_json_dict(doc)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise BrokenSource(f"the file's header is not an offline-database header: {problems}") from exc


def _validate(doc: Any, position: int, line: int | None) -> ValidRecord | InvalidRecord:
    if not isinstance(doc, dict):
        return InvalidRecord(position, line, f"expected an object, got {type(doc).__name__}")
    try:
        record = OfflineRecord.from_json_dict(doc)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '$'}: {e['msg']}" for e in exc.errors()[:5])
        return InvalidRecord(position, line, problems)
    if not record.sources:
        return InvalidRecord(position, line, "sources: an anime without sources cannot be matched")
    return ValidRecord(position, line, doc, record)


# ----------------------------------------------------------------------------- byte streams
class _Counting(io.RawIOBase):
    """A file wrapper that reports how many bytes were read (to ``progress``, if any)."""

    def __init__(self, raw: IO[bytes], total: int, progress: Progress | None) -> None:
        self._raw, self._total, self._progress = raw, total, progress
        self._done = 0
        self._reported = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        buffer[: len(data)] = data
        self._done += len(data)
        if self._progress is not None and (self._done - self._reported >= _CHUNK or not data):
            self._reported = self._done
            self._progress(self._done, self._total)
        return len(data)

    def close(self) -> None:
        self._raw.close()
        super().close()


class _ZstdReader(io.RawIOBase):
    """Decompresses zstd frames one after another; raises on a truncated frame."""

    def __init__(self, raw: io.RawIOBase) -> None:
        self._raw = raw
        self._dctx = zstandard.ZstdDecompressor()
        self._dobj = self._dctx.decompressobj()
        self._in_frame = False
        self._pending = memoryview(b"")
        self._eof = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not len(self._pending) and not self._eof:
            self._fill()
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def _fill(self) -> None:
        chunk = self._raw.read(_CHUNK)
        if not chunk:
            if self._in_frame:
                raise BrokenSource(
                    "the .zst file is truncated (its last frame is incomplete); download it again"
                )
            self._eof = True
            return
        out = []
        while chunk:
            self._in_frame = True
            try:
                out.append(self._dobj.decompress(chunk))
            except zstandard.ZstdError as exc:
                raise BrokenSource(f"the .zst file is corrupt: {exc}") from exc
            if self._dobj.eof:
                chunk = self._dobj.unused_data
                self._dobj = self._dctx.decompressobj()
                self._in_frame = False
            else:
                chunk = b""
        self._pending = memoryview(b"".join(out))

    def close(self) -> None:
        self._raw.close()
        super().close()
