"""Reading offline files as streams: both shapes, zstd, positions of bad records, and
structural damage that must stop the sync before it writes anything."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from avs_sync_testkit import HEADER, mal, record

from avs_shared.schema import OfflineDatabaseHeader
from avs_sync.reader import BrokenSource, InvalidRecord, ValidRecord, detect_format, read_records

GOOD = [record("One", [mal(1)]), record("Two", [mal(2)], status="ONGOING"), record("Three", [mal(3)])]


def read_all(
    path: Path, fmt: str | None = None
) -> tuple[list[ValidRecord], list[InvalidRecord], OfflineDatabaseHeader]:
    valid: list[ValidRecord] = []
    invalid: list[InvalidRecord] = []
    header = None
    for item in read_records(path, fmt or detect_format(path)):  # type: ignore[arg-type]
        if isinstance(item, ValidRecord):
            valid.append(item)
        elif isinstance(item, InvalidRecord):
            invalid.append(item)
        else:
            header = item
    assert header is not None
    return valid, invalid, header


@pytest.mark.parametrize(("fmt", "zst"), [("json", False), ("jsonl", False), ("json", True), ("jsonl", True)])
def test_both_shapes_plain_and_zstd_read_the_same_records(
    offline: Callable[..., Path], fmt: str, zst: bool
) -> None:
    path = offline(GOOD, fmt=fmt, zst=zst)
    valid, invalid, header = read_all(path)
    assert [v.record.title for v in valid] == ["One", "Two", "Three"]
    assert [v.position for v in valid] == [1, 2, 3]
    assert valid[0].raw == GOOD[0]
    assert not invalid
    assert header.last_update.isoformat() == HEADER["lastUpdate"]


def test_the_format_is_sniffed_when_the_name_does_not_say(
    tmp_path: Path, offline: Callable[..., Path]
) -> None:
    for fmt in ("json", "jsonl"):
        source = offline(GOOD, fmt=fmt, zst=True)
        anonymous = tmp_path / f"download-{fmt}"
        anonymous.write_bytes(source.read_bytes())
        assert detect_format(anonymous) == fmt
        assert len(read_all(anonymous)[0]) == 3


def test_invalid_records_are_reported_with_their_position_and_skipped(offline: Callable[..., Path]) -> None:
    no_title = record("x", [mal(4)])
    del no_title["title"]
    records = [GOOD[0], no_title, record("Bad type", [mal(5)], type="BOGUS"), "not an object", GOOD[1]]
    for fmt in ("json", "jsonl"):
        valid, invalid, _ = read_all(offline(records, fmt=fmt))
        assert [v.position for v in valid] == [1, 5]
        assert [i.position for i in invalid] == [2, 3, 4]
        assert "title" in invalid[0].error and "type" in invalid[1].error and "object" in invalid[2].error
        if fmt == "jsonl":
            assert [i.line for i in invalid] == [3, 4, 5]
            assert invalid[0].where() == "record #2 (line 3)"
        else:
            assert invalid[0].where() == "record #2 (data[1])"


def test_a_record_without_sources_is_invalid(offline: Callable[..., Path]) -> None:
    _, invalid, _ = read_all(offline([record("Nowhere", [])]))
    assert invalid and "sources" in invalid[0].error


@pytest.mark.parametrize("cut", [0.5, 0.97])
def test_a_truncated_json_file_is_broken(offline: Callable[..., Path], cut: float) -> None:
    path = offline(GOOD * 50)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(BrokenSource, match="truncated"):
        read_all(path)


def test_a_truncated_jsonl_file_is_broken(offline: Callable[..., Path]) -> None:
    path = offline(GOOD * 50, fmt="jsonl")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 40])
    with pytest.raises(BrokenSource, match="truncated"):
        read_all(path)


def test_a_truncated_zstd_file_is_broken_even_when_its_text_looks_complete(
    offline: Callable[..., Path],
) -> None:
    path = offline(GOOD * 200, fmt="jsonl", zst=True)
    data = path.read_bytes()
    path.write_bytes(data[:-6])  # cut into the frame's end: the lines before it still parse
    with pytest.raises(BrokenSource, match="truncated"):
        read_all(path)


def test_corrupt_zstd_is_broken(offline: Callable[..., Path]) -> None:
    path = offline(GOOD, fmt="jsonl", zst=True)
    data = bytearray(path.read_bytes())
    data[10:30] = b"\x00" * 20
    path.write_bytes(bytes(data))
    with pytest.raises(BrokenSource):
        read_all(path)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([record("One", [mal(1)])], "root is an array"),
        ({**HEADER}, "no `data` array"),
        ({**HEADER, "data": {"a": 1}}, "`data` must be an array"),
        ({"data": [record("One", [mal(1)])]}, "header"),
        ("just text", "root is a string"),
    ],
)
def test_a_wrong_root_is_broken(tmp_path: Path, doc: object, message: str) -> None:
    path = tmp_path / "wrong.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(BrokenSource, match=message):
        read_all(path, "json")


def test_trailing_garbage_is_broken(offline: Callable[..., Path]) -> None:
    path = offline(GOOD)
    path.write_bytes(path.read_bytes() + b"]}")
    with pytest.raises(BrokenSource):
        read_all(path)


def test_a_jsonl_line_that_is_not_json_is_broken(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(
        json.dumps(HEADER) + "\n" + json.dumps(GOOD[0]) + "\n{oops\n" + json.dumps(GOOD[1]) + "\n"
    )
    with pytest.raises(BrokenSource, match="line 3"):
        read_all(path)


def test_a_minified_file_named_jsonl_is_refused(tmp_path: Path, offline: Callable[..., Path]) -> None:
    path = tmp_path / "misnamed.jsonl"
    path.write_bytes(offline(GOOD).read_bytes())
    with pytest.raises(BrokenSource, match="minified JSON"):
        read_all(path)


def test_header_keys_after_data_are_read_too(tmp_path: Path) -> None:
    path = tmp_path / "late-header.json"
    doc = {"data": GOOD, **HEADER}
    path.write_text(json.dumps(doc))
    _, _, header = read_all(path)
    assert header.repository == HEADER["repository"]


def test_progress_reports_bytes_of_the_file_on_disk(offline: Callable[..., Path]) -> None:
    path = offline(GOOD * 3000, fmt="jsonl", zst=True)
    seen: list[tuple[int, int]] = []
    for _ in read_records(path, "jsonl", progress=lambda done, total: seen.append((done, total))):
        pass
    size = path.stat().st_size
    assert seen and seen[-1] == (size, size)
    assert all(a <= b for (a, _), (b, _) in itertools.pairwise(seen))
