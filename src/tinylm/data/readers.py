"""Stream stories out of the file formats users have: TinyStories txt, jsonl, json, csv/tsv.

Readers yield one story at a time so a 2 GB corpus never sits in memory. Broken UTF-8 is an
error naming the file and byte offset: silently dropping or replacing text would corrupt the
corpus in a way nobody notices until the model writes garbage.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

from tinylm.errors import TinylmError

STORY_SEPARATOR = "<|endoftext|>"
TEXT_FIELDS = ("text", "story", "story_zh", "content", "completion", "body")
TEXT_SUFFIXES = (".txt", ".text", ".md")
FORMATS = ("txt", "jsonl", "json", "csv", "tsv")


def detect_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in TEXT_SUFFIXES:
        return "txt"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".json":
        return "json"
    if suffix == ".csv":
        return "csv"
    if suffix == ".tsv":
        return "tsv"
    raise TinylmError(
        f"{path}: unknown file type '{suffix or '(none)'}'; tinylm reads "
        ".txt, .jsonl, .json, .csv and .tsv"
    )


def expand_inputs(inputs: list[str]) -> list[Path]:
    """Files as given; folders become their readable files in sorted order."""
    paths: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and _is_readable_suffix(p))
            if not found:
                raise TinylmError(f"folder {path} holds no .txt/.jsonl/.json/.csv/.tsv files")
            paths.extend(found)
        elif path.is_file():
            paths.append(path)
        else:
            raise TinylmError(f"input file not found: {path}")
    if not paths:
        raise TinylmError("no input files given")
    return paths


def _is_readable_suffix(path: Path) -> bool:
    try:
        detect_format(path)
    except TinylmError:
        return False
    return True


def read_stories(
    path: str | Path, field: str | None = None, column: str | None = None
) -> Iterator[str]:
    """Yield the stories in one file, stripped of surrounding whitespace, empty ones skipped."""
    path = Path(path)
    if not path.is_file():
        raise TinylmError(f"input file not found: {path}")
    fmt = detect_format(path)
    if fmt == "txt":
        yield from _read_txt(path)
    elif fmt == "jsonl":
        yield from _read_jsonl(path, field)
    elif fmt == "json":
        yield from _read_json(path, field)
    else:
        yield from _read_csv(path, column, delimiter="\t" if fmt == "tsv" else ",")


def _decoded_lines(path: Path) -> Iterator[str]:
    """Lines of a UTF-8 file; the error names the byte offset of the first bad byte."""
    offset = 0
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise TinylmError(
                    f"{path}: invalid UTF-8 at byte offset {offset + exc.start} (line {lineno}); "
                    "re-save the file as UTF-8"
                ) from None
            if offset == 0 and line.startswith("\ufeff"):
                line = line[1:]  # a byte-order mark is an encoding artefact, not text
            offset += len(raw)
            yield line


def read_separated(path: str | Path) -> Iterator[str]:
    """The '<|endoftext|>'-separated blocks of a txt file, blank lines kept inside a block
    (TinyStories-Instruct records have them); a file without separators is one block."""
    return _read_txt(Path(path), blank_line_blocks=False)


def _read_txt(path: Path, blank_line_blocks: bool = True) -> Iterator[str]:
    """TinyStories layout (stories separated by '<|endoftext|>'), else blank-line blocks."""
    with open(path, "rb") as f:
        head = f.read(1 << 20)
    separator = (
        not blank_line_blocks or STORY_SEPARATOR.encode() in head or _contains_separator(path)
    )
    block: list[str] = []
    for line in _decoded_lines(path):
        if separator:
            if STORY_SEPARATOR in line:
                before, _, after = line.partition(STORY_SEPARATOR)
                block.append(before)
                story = "".join(block).strip()
                if story:
                    yield story
                block = [after] if after.strip() else []
                continue
        elif not line.strip():
            story = "".join(block).strip()
            if story:
                yield story
            block = []
            continue
        block.append(line)
    story = "".join(block).strip()
    if story:
        yield story


def _contains_separator(path: Path) -> bool:
    needle = STORY_SEPARATOR.encode()
    with open(path, "rb") as f:
        tail = b""
        while chunk := f.read(1 << 24):
            if needle in tail + chunk:
                return True
            tail = chunk[-len(needle) :]
    return False


def _pick_field(record: dict, field: str | None, path: Path, where: str) -> str | None:
    if field is not None:
        if field not in record:
            raise TinylmError(
                f"{path}: {where} has no field '{field}' (fields: {', '.join(map(str, record))})"
            )
        value = record[field]
    else:
        value = None
        for name in TEXT_FIELDS:
            if isinstance(record.get(name), str):
                value = record[name]
                break
        if value is None:
            raise TinylmError(
                f"{path}: cannot tell which field holds the text ({', '.join(map(str, record))}); "
                "pass --field NAME"
            )
    if value is None:
        return None
    if not isinstance(value, str):
        raise TinylmError(f"{path}: {where} field '{field}' is not a string")
    return value


def _read_jsonl(path: Path, field: str | None) -> Iterator[str]:
    for lineno, line in enumerate(_decoded_lines(path), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise TinylmError(f"{path}: line {lineno} is not valid JSON ({exc.msg})") from None
        if isinstance(record, str):
            text: str | None = record
        elif isinstance(record, dict):
            text = _pick_field(record, field, path, f"line {lineno}")
        else:
            raise TinylmError(f"{path}: line {lineno} is neither an object nor a string")
        if text and text.strip():
            yield text.strip()


def _read_json(path: Path, field: str | None) -> Iterator[str]:
    raw = path.read_bytes()
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise TinylmError(
            f"{path}: invalid UTF-8 at byte offset {exc.start}; re-save the file as UTF-8"
        ) from None
    except json.JSONDecodeError as exc:
        raise TinylmError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if isinstance(data, dict):
        # {"data": [...]} style wrappers are common; take the single list inside.
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) != 1:
            raise TinylmError(f"{path}: expected a JSON array of stories or of objects")
        data = lists[0]
    if not isinstance(data, list):
        raise TinylmError(f"{path}: expected a JSON array of stories or of objects")
    for index, record in enumerate(data):
        if isinstance(record, str):
            text: str | None = record
        elif isinstance(record, dict):
            text = _pick_field(record, field, path, f"item {index}")
        else:
            raise TinylmError(f"{path}: item {index} is neither an object nor a string")
        if text and text.strip():
            yield text.strip()


def _read_csv(path: Path, column: str | None, delimiter: str) -> Iterator[str]:
    lines = _decoded_lines(path)
    # csv wants a text stream; feed it our strictly decoded lines.
    csv.field_size_limit(2**31 - 1)  # stories can be long; the default 128 KiB cap is arbitrary
    reader = csv.reader(lines, delimiter=delimiter, skipinitialspace=True)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        return
    if column is not None:
        if column not in header:
            raise TinylmError(
                f"{path}: no column '{column}' (columns: {', '.join(header)}); pass --column NAME"
            )
        index = header.index(column)
    else:
        candidates = [i for i, h in enumerate(header) if h.lower() in TEXT_FIELDS]
        if not candidates:
            raise TinylmError(
                f"{path}: cannot tell which column holds the text ({', '.join(header)}); "
                "pass --column NAME"
            )
        index = candidates[0]
    try:
        for row in reader:
            if index < len(row) and row[index].strip():
                yield row[index].strip()
    except csv.Error as exc:
        raise TinylmError(f"{path}: malformed CSV at line {reader.line_num} ({exc})") from None
