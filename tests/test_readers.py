"""Every input format, compressed or not, streams the same stories; encoding problems are
reported with file and byte offset."""

from __future__ import annotations

import gzip
import json
import tracemalloc

import pytest
import zstandard
from conftest import first_stories

from tinylm.data.readers import StoryReader, expand_inputs, read_stories
from tinylm.errors import TinylmError


@pytest.fixture(scope="module")
def stories(tinystories_v2) -> list[str]:
    return first_stories(tinystories_v2, 50)


def _formats(stories: list[str]) -> dict[str, bytes]:
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, delimiter="\t")
    writer.writerow(["id", "story"])
    writer.writerows([i, s] for i, s in enumerate(stories))
    return {
        "a.txt": "".join(f"{s}\n<|endoftext|>\n" for s in stories).encode(),
        "b.jsonl": "".join(json.dumps({"text": s}) + "\n" for s in stories).encode(),
        "c.json": json.dumps({"data": [{"story": s, "summary": "x"} for s in stories]}).encode(),
        "d.tsv": buf.getvalue().encode(),
    }


@pytest.mark.parametrize("compress", ["", ".gz", ".zst"])
def test_every_format_and_compression_reads_the_same_stories(tmp_path, stories, compress) -> None:
    for name, data in _formats(stories).items():
        if compress == ".gz":
            data = gzip.compress(data)
        elif compress == ".zst":
            data = zstandard.ZstdCompressor().compress(data)
        path = tmp_path / (name + compress)
        path.write_bytes(data)
        assert list(read_stories(path)) == stories, path.name


def test_parquet_column_detected_and_given(tmp_path, stories) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "s.parquet"
    pq.write_table(
        pa.table({"id": list(range(len(stories))), "story": stories}), path, row_group_size=16
    )
    assert list(read_stories(path)) == stories
    with pytest.raises(TinylmError, match=r"no column 'text' \(columns: id, story\)"):
        list(read_stories(path, column="text"))


def test_big_json_array_streams_in_constant_memory(tmp_path, stories) -> None:
    path = tmp_path / "big.json"
    with open(path, "w") as f:
        f.write("[")
        for i in range(4000):
            f.write(("," if i else "") + json.dumps({"story": stories[i % len(stories)], "i": i}))
        f.write("]")
    size = path.stat().st_size
    assert size > 3_000_000
    tracemalloc.start()
    count = sum(1 for _ in read_stories(path))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert count == 4000
    assert peak < size / 5  # json.loads would hold the whole text and every object at once


def test_encoding_problems_name_file_and_offset(tmp_path) -> None:
    path = tmp_path / "bad.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"text": "fine"}\n{"text": "caf\xe9 au lait"}\n'))
    with pytest.raises(
        TinylmError,
        match=r"bad.jsonl.gz: invalid UTF-8 at byte offset 30 of the decompressed text \(line 2\)",
    ):
        list(read_stories(path))
    reader = StoryReader(path, errors="replace")
    assert list(reader) == ["fine", "caf\ufffd au lait"]
    assert [str(p) for p in reader.problems] == [
        f"{path}: invalid UTF-8 at byte offset 30 of the decompressed text"
    ]
    broken_json = tmp_path / "bad.json"
    broken_json.write_bytes(b'[{"story": "ok"}, {"story": "bad \xff"}]')
    with pytest.raises(TinylmError, match=r"bad.json: invalid UTF-8 at byte offset 33"):
        list(read_stories(broken_json))


def test_unclosed_last_story_is_flagged(tinystories_v1) -> None:
    records = list(StoryReader(tinystories_v1).records())
    assert [closed for _, closed in records[-2:]] == [True, False]
    assert records[-1][0].endswith("She said it was")


def test_folders_skip_hidden_state_and_unknown_files(tmp_path, stories) -> None:
    (tmp_path / "a.txt").write_text(stories[0])
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.jsonl.gz").write_bytes(
        gzip.compress(json.dumps({"text": stories[1]}).encode())
    )
    (tmp_path / ".tinylm-download").mkdir()
    (tmp_path / ".tinylm-download" / "manifest.json").write_text("{}")
    (tmp_path / "archive.tar.gz").write_bytes(b"")
    assert [p.name for p in expand_inputs([str(tmp_path)])] == ["a.txt", "b.jsonl.gz"]
    with pytest.raises(TinylmError, match=r"unknown file type '\.tar\.gz'"):
        list(read_stories(tmp_path / "archive.tar.gz"))
