"""Stream stories out of the file formats users have: TinyStories txt, jsonl, json, csv/tsv,
parquet, each optionally gzip/zstd-compressed, and folders of them.

Readers yield one story at a time so a 2 GB corpus never sits in memory (JSON arrays are parsed
incrementally with ijson, parquet row group by row group). Broken UTF-8 is an error naming the
file and byte offset: silently dropping or replacing text would corrupt the corpus in a way
nobody notices until the model writes garbage. `tinylm data clean` reads with
`errors="replace"` instead: each bad byte becomes U+FFFD and is recorded in `StoryReader.problems`,
so the cleaner can report it and drop the damaged story in the open.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

from tinylm.data.compressed import detect_compression, open_binary
from tinylm.errors import TinylmError

STORY_SEPARATOR = "<|endoftext|>"


def story_record(story: str) -> str:
    """One story in the TinyStories text format, as TinyStories-train.txt lays it out: the
    story, a newline, a line '<|endoftext|>'. Every writer of story files (the built-in
    generator, `data clean`, the evaluation's held-out text) writes it with this."""
    return f"{story}\n{STORY_SEPARATOR}\n"


TEXT_FIELDS = ("text", "story", "story_zh", "content", "completion", "body")
TEXT_SUFFIXES = (".txt", ".text", ".md")
FORMATS = ("txt", "jsonl", "json", "csv", "tsv", "parquet")
# TinyStories stories are 1-10 KB; a million characters without a separator is a book, or a file
# in the wrong layout, and tokenizing it in one piece took gigabytes.
MAX_STORY_CHARS = 1_000_000
READABLE = ".txt, .jsonl, .json, .csv, .tsv, .parquet (txt/jsonl/json/csv/tsv also as .gz or .zst)"
# Problems listed one by one per file; past this only the count grows (a binary file would
# otherwise fill the report with millions of offsets).
MAX_LISTED_PROBLEMS = 100

Errors = Literal["strict", "replace"]
_SURROGATES = re.compile("[\udc80-\udcff]")


@dataclass(frozen=True)
class EncodingProblem:
    """One invalid UTF-8 byte: where it is, so a person can look at it."""

    path: Path
    offset: int
    compressed: bool = False

    def __str__(self) -> str:
        where = " of the decompressed text" if self.compressed else ""
        return f"{self.path}: invalid UTF-8 at byte offset {self.offset}{where}"


def detect_format(path: Path) -> str:
    """The story format of `path`, looking through a .gz/.zst suffix."""
    compression = detect_compression(path)
    inner = Path(path.stem) if compression else path
    suffix = inner.suffix.lower()
    fmt: str | None = None
    if suffix in TEXT_SUFFIXES:
        fmt = "txt"
    elif suffix in (".jsonl", ".ndjson"):
        fmt = "jsonl"
    elif suffix in (".json", ".csv", ".tsv", ".parquet"):
        fmt = suffix[1:]
    if fmt is None or (fmt == "parquet" and compression):
        shown = "".join(path.suffixes[-2:]) if compression else suffix
        raise TinylmError(
            f"{path}: unknown file type '{shown or '(none)'}'; tinylm reads {READABLE}"
        )
    return fmt


def expand_inputs(inputs: list[str]) -> list[Path]:
    """Files as given; folders become their readable files in sorted order (hidden files and
    folders such as download caches are skipped)."""
    paths: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
                and _is_readable_suffix(p)
            )
            if not found:
                raise TinylmError(f"folder {path} holds no readable files ({READABLE})")
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
    path: str | Path,
    field: str | None = None,
    column: str | None = None,
    *,
    errors: Errors = "strict",
) -> Iterator[str]:
    """Yield the stories in one file, stripped of surrounding whitespace, empty ones skipped."""
    yield from StoryReader(path, field=field, column=column, errors=errors)


def read_separated(path: str | Path) -> Iterator[str]:
    """The '<|endoftext|>'-separated blocks of a txt file, blank lines kept inside a block
    (TinyStories-Instruct records have them); a file without separators is one block."""
    yield from StoryReader(path, separated=True)


class StoryReader:
    """Iterate the stories of one file; afterwards `problems` lists the encoding problems met
    (errors="replace") and `records()` also tells whether each story was closed properly."""

    def __init__(
        self,
        path: str | Path,
        field: str | None = None,
        column: str | None = None,
        errors: Errors = "strict",
        separated: bool = False,
        max_chars: int | None = MAX_STORY_CHARS,
    ) -> None:
        """`max_chars`: a longer story is refused as a sign the file is not split into
        stories (None: any length, for `data clean`, whose length filter drops it)."""
        self.path = Path(path)
        self.max_chars = max_chars
        self.separated = separated  # txt: '<|endoftext|>' blocks even where none is found
        self.field = field
        self.column = column
        if errors not in ("strict", "replace"):
            raise ValueError(f"errors must be 'strict' or 'replace', not {errors!r}")
        self.errors = errors
        self.problems: list[EncodingProblem] = []
        self.problem_count = 0
        self.compressed = detect_compression(self.path) is not None

    def __iter__(self) -> Iterator[str]:
        for text, _complete in self.records():
            yield text

    def records(self) -> Iterator[tuple[str, bool]]:
        """(story, complete): `complete` is False only for the last story of a
        '<|endoftext|>'-separated file that ends without a separator, the sign of a file cut
        short (a partial download, `head -c`)."""
        path = self.path
        if not path.is_file():
            raise TinylmError(f"input file not found: {path}")
        fmt = detect_format(path)
        if fmt == "txt":
            records = self._read_txt()
        else:
            if fmt == "jsonl":
                stories = self._read_jsonl()
            elif fmt == "json":
                stories = self._read_json()
            elif fmt == "parquet":
                stories = self._read_parquet()
            else:
                stories = self._read_csv(delimiter="\t" if fmt == "tsv" else ",")
            records = ((story, True) for story in stories)
        for story, complete in records:
            yield self._checked(story), complete

    def _checked(self, story: str) -> str:
        """Windows and old Mac line ends become \\n (they would reach the tokens otherwise);
        a "story" the size of a book means the file is not split into stories at all."""
        if "\r" in story:
            story = story.replace("\r\n", "\n").replace("\r", "\n")
        if self.max_chars is not None and len(story) > self.max_chars:
            raise TinylmError(
                f"{self.path}: a story of {len(story):,} characters (at most "
                f"{self.max_chars:,}): the file is not split into stories; separate them "
                f"with '{STORY_SEPARATOR}' lines or blank lines (txt), or one per record"
            )
        return story

    # -- decoding ----------------------------------------------------------------------------

    def _problem(self, offset: int) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_LISTED_PROBLEMS:
            self.problems.append(EncodingProblem(self.path, offset, self.compressed))

    def _decode(self, raw: bytes, offset: int, lineno: int | None = None) -> str:
        """Strict UTF-8, or U+FFFD per bad byte (each one recorded) in replace mode."""
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            if self.errors == "strict":
                where = f" (line {lineno})" if lineno is not None else ""
                suffix = " of the decompressed text" if self.compressed else ""
                raise TinylmError(
                    f"{self.path}: invalid UTF-8 at byte offset {offset + exc.start}{suffix}"
                    f"{where}; re-save the file as UTF-8 (or clean it with `tinylm data clean`)"
                ) from None
        text = raw.decode("utf-8", errors="surrogateescape")
        consumed = 0
        pos = 0
        for match in _SURROGATES.finditer(text):
            consumed += len(text[pos : match.start()].encode("utf-8", "surrogateescape"))
            self._problem(offset + consumed)
            consumed += 1
            pos = match.end()
        return _SURROGATES.sub("\ufffd", text)

    def _lines(self) -> Iterator[str]:
        """Decoded lines; errors name the byte offset of the first bad byte."""
        offset = 0
        with open_binary(self.path) as f:
            for lineno, raw in enumerate(f, start=1):
                line = self._decode(raw, offset, lineno)
                if offset == 0 and line.startswith("\ufeff"):
                    line = line[1:]  # a byte-order mark is an encoding artefact, not text
                offset += len(raw)
                yield line

    # -- formats -----------------------------------------------------------------------------

    def _read_txt(self) -> Iterator[tuple[str, bool]]:
        """TinyStories layout (stories separated by '<|endoftext|>'), else blank-line blocks."""
        separator = self.separated or _contains_separator(self.path)
        block: list[str] = []
        size = 0
        for line in self._lines():
            if separator:
                if STORY_SEPARATOR in line:
                    before, _, after = line.partition(STORY_SEPARATOR)
                    block.append(before)
                    story = "".join(block).strip()
                    if story:
                        yield story, True
                    block = [after] if after.strip() else []
                    continue
            elif not line.strip():
                story = "".join(block).strip()
                if story:
                    yield story, True
                block = []
                continue
            block.append(line)
            size = size + len(line) if len(block) > 1 else len(line)
            if self.max_chars is not None and size > self.max_chars:  # stop reading it here
                yield self._checked("".join(block)), False
        story = "".join(block).strip()
        if story:
            # Text after the last separator was never closed: the file was cut short.
            yield story, not separator

    def _read_jsonl(self) -> Iterator[str]:
        for lineno, line in enumerate(self._lines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TinylmError(
                    f"{self.path}: line {lineno} is not valid JSON ({exc.msg})"
                ) from None
            text = _record_text(record, self.field, self.path, f"line {lineno}")
            if text and text.strip():
                yield text.strip()

    def _read_json(self) -> Iterator[str]:
        """A JSON array (or an object wrapping one array) parsed incrementally: a 2 GB file
        streams through in constant memory."""
        import ijson

        prefix = self._json_array_prefix()
        index = 0
        with open_binary(self.path) as raw:
            stream = _Utf8Stream(raw, self)
            try:
                for index, record in enumerate(ijson.items(stream, prefix, use_float=True)):
                    text = _record_text(record, self.field, self.path, f"item {index}")
                    if text and text.strip():
                        yield text.strip()
            except ijson.JSONError as exc:
                raise TinylmError(
                    f"{self.path}: not valid JSON after item {index} ({str(exc).splitlines()[0]})"
                ) from None

    def _json_array_prefix(self) -> str:
        """'item' for a top-level array; 'key.item' for {"key": [...]} wrappers."""
        import ijson

        with open_binary(self.path) as raw:
            events = ijson.parse(_Utf8Stream(raw, self, record=False))
            try:
                _, event, _ = next(events)
                key = None
                if event == "start_array":
                    return "item"
                if event == "start_map":
                    for prefix, event, value in events:
                        if prefix == "" and event == "map_key":
                            key = value
                        elif prefix == key and event == "start_array":
                            return f"{key}.item"
            except StopIteration:
                raise TinylmError(f"{self.path}: empty JSON file; expected an array") from None
            except ijson.JSONError as exc:
                raise TinylmError(
                    f"{self.path}: not valid JSON ({str(exc).splitlines()[0]})"
                ) from None
        raise TinylmError(f"{self.path}: expected a JSON array of stories or of objects")

    def _read_csv(self, delimiter: str) -> Iterator[str]:
        # csv wants a text stream; feed it our strictly decoded lines.
        csv.field_size_limit(2**31 - 1)  # stories can be long; the default 128 KiB cap is arbitrary
        reader = csv.reader(self._lines(), delimiter=delimiter, skipinitialspace=True)
        try:
            try:
                header = [h.strip() for h in next(reader)]
            except StopIteration:
                return
            index = header.index(_pick_column(header, self.column, self.path))
            for row in reader:
                if index < len(row) and row[index].strip():
                    yield row[index].strip()
        except csv.Error as exc:
            why = str(exc)
            if "new-line character" in why:  # Python's advice there is about its own API
                why = "a carriage return inside an unquoted field; quote it, or save with \\n ends"
            raise TinylmError(
                f"{self.path}: malformed CSV at line {reader.line_num} ({why})"
            ) from None

    def _read_parquet(self) -> Iterator[str]:
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise TinylmError(
                f"{self.path}: reading parquet needs pyarrow (pip install 'tinylm[parquet]')"
            ) from None
        try:
            parquet = pq.ParquetFile(self.path)
        except Exception as exc:  # pyarrow raises ArrowInvalid / OSError with a long message
            raise TinylmError(
                f"{self.path}: not a readable parquet file ({str(exc).splitlines()[0]})"
            ) from None
        names = parquet.schema_arrow.names
        name = _pick_column(names, self.column or self.field, self.path)
        for batch in parquet.iter_batches(batch_size=4096, columns=[name]):
            for value in batch.column(0).to_pylist():
                if isinstance(value, str) and value.strip():
                    yield value.strip()


class _Utf8Stream(io.RawIOBase):
    """Bytes passed through to ijson after the same UTF-8 check as the line readers, so a JSON
    file's bad byte is reported with its offset (or replaced and recorded)."""

    def __init__(self, raw: IO[bytes], reader: StoryReader, record: bool = True) -> None:
        import codecs

        self.raw = raw
        self.reader = reader
        self.record = record
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")
        self.offset = 0
        self.first = True

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if size == 0:
            return b""  # ijson probes the stream type with read(0)
        chunk = self.raw.read(size if size and size > 0 else 1 << 16)
        pending = len(self.decoder.getstate()[0])
        text = self.decoder.decode(chunk, final=not chunk)
        start = self.offset - pending
        self.offset += len(chunk)
        if self.first and text.startswith("\ufeff"):
            text = text[1:]
            start += 3
        self.first = False
        if _SURROGATES.search(text):
            raw = text.encode("utf-8", "surrogateescape")
            if self.record:
                text = self.reader._decode(raw, start)
            elif self.reader.errors == "strict":
                self.reader._decode(raw, start)  # raises with the offset
            text = _SURROGATES.sub("\ufffd", text)
        return text.encode("utf-8")

    def readinto(self, buffer) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _contains_separator(path: Path) -> bool:
    needle = STORY_SEPARATOR.encode()
    with open_binary(path) as f:
        tail = b""
        while chunk := f.read(1 << 24):
            if needle in tail + chunk:
                return True
            tail = chunk[-len(needle) :]
    return False


def _pick_column(names: list[str], column: str | None, path: Path) -> str:
    if column is not None:
        if column not in names:
            raise TinylmError(
                f"{path}: no column '{column}' (columns: {', '.join(names)}); pass --column NAME"
            )
        return column
    for name in names:
        if name.lower() in TEXT_FIELDS:
            return name
    raise TinylmError(
        f"{path}: cannot tell which column holds the text ({', '.join(names)}); pass --column NAME"
    )


def _record_text(record: object, field: str | None, path: Path, where: str) -> str | None:
    if isinstance(record, str):
        return record
    if isinstance(record, dict):
        return _pick_field(record, field, path, where)
    raise TinylmError(f"{path}: {where} is neither an object nor a string")


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
