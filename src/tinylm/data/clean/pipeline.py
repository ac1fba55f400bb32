"""`tinylm data clean INPUT... --out FILE`: raw story files in, one clean corpus out.

Two streaming passes, so memory stays flat on a 2 GB corpus:

1. Read every input (broken bytes become U+FFFD and are recorded with file and offset); worker
   processes rewrite and judge each story (length, mojibake, NFC, whitespace, quotes,
   Traditional -> Simplified, U+FFFD, incomplete, script, offensive words) and compute its
   MinHash signature. The main process drops exact duplicates (a 64-bit hash per story seen)
   and spools survivors to a temp file, their signatures to a memmap.
2. Near duplicates are resolved over all sources at once (`dedup.find_near_duplicates`), then
   the spool is streamed again: near duplicates out, the vocabulary filter applied (its top-N
   list counted in pass 1), survivors written to FILE.

Every story that goes is counted under exactly one step, so per step `kept + removed ==
entered`, and the steps chain from the input count to the output count.
"""

from __future__ import annotations

import bisect
import shutil
import struct
import tempfile
from array import array
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from tinylm.data.clean import text as T
from tinylm.data.clean.config import CleanConfig, enabled_steps
from tinylm.data.clean.dedup import MinHasher, SignatureStore, find_near_duplicates
from tinylm.data.clean.worker import clean_batch, finish_batch, init_worker
from tinylm.data.compressed import detect_compression
from tinylm.data.parallel import OrderedPool
from tinylm.data.readers import StoryReader, expand_inputs, story_record
from tinylm.errors import TinylmError
from tinylm.fileio import check_output_file, fsync_replace
from tinylm.progress import Progress

BATCH_STORIES = 512
SNIPPET = 240

# (name, kind, what it means). Order is the order stories meet them.
STEPS: tuple[tuple[str, str, str], ...] = (
    ("ftfy", "fix", "mojibake repaired (ftfy)"),
    ("nfc", "fix", "Unicode normalised to NFC"),
    ("whitespace", "fix", "newlines, odd spaces, trailing/double spaces, blank lines"),
    ("quotes", "fix", "curly quotes straightened"),
    ("simplified", "fix", "Traditional -> Simplified Chinese (OpenCC)"),
    ("replacement", "drop", "still holds U+FFFD (undecodable bytes)"),
    ("incomplete", "drop", "cut mid-sentence or cut off at the end of a file"),
    ("script", "both", "lines in another script removed; stories mostly in another script"),
    ("length", "drop", "outside the length bounds (characters / words)"),
    ("offensive", "drop", "contains a word from the offensive list"),
    ("exact-dup", "drop", "exact duplicate of an earlier story"),
    ("near-dup", "drop", "near duplicate of an earlier story (MinHash LSH)"),
    ("vocabulary", "drop", "uses words outside the vocabulary"),
)


@dataclass
class StepStats:
    name: str
    kind: str
    title: str
    enabled: bool
    entered: int = 0
    removed: int = 0
    modified: int = 0
    examples: list[dict] = field(default_factory=list)

    @property
    def kept(self) -> int:
        return self.entered - self.removed


@dataclass
class SourceStats:
    path: str
    stories: int = 0
    kept: int = 0
    bytes: int = 0
    encoding_problems: int = 0
    problem_offsets: list[str] = field(default_factory=list)


@dataclass
class CleanResult:
    out: Path
    config: CleanConfig
    input_stories: int
    output_stories: int
    input_bytes: int
    output_bytes: int
    steps: list[StepStats]
    sources: list[SourceStats]
    vocab_size: int
    top_words: list[tuple[str, int]]
    length_words: np.ndarray  # words per output story
    cross_source_duplicates: dict[str, int]
    bands: tuple[int, int] | None = None

    def step(self, name: str) -> StepStats:
        return next(s for s in self.steps if s.name == name)

    def as_dict(self) -> dict:
        return {
            "out": str(self.out),
            "input_stories": self.input_stories,
            "output_stories": self.output_stories,
            "input_bytes": self.input_bytes,
            "output_bytes": self.output_bytes,
            "vocab_size": self.vocab_size,
            "top_words": self.top_words[:50],
            "cross_source_duplicates": self.cross_source_duplicates,
            "lsh_bands_rows": list(self.bands) if self.bands else None,
            "steps": [{**asdict(s), "kept": s.kept} for s in self.steps],
            "sources": [asdict(s) for s in self.sources],
            "config": asdict(self.config),
        }


# -- main side -------------------------------------------------------------------------------------


def _snippet(text: str, limit: int = SNIPPET) -> str:
    return text if len(text) <= limit else text[:limit] + f"… ({len(text):,} characters)"


class _Spool:
    """Length-prefixed UTF-8 records in a temp file: the stories between the two passes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file = open(path, "wb")  # noqa: SIM115 - closed in close()

    def write(self, text: str) -> None:
        data = text.encode("utf-8")
        self.file.write(struct.pack("<I", len(data)))
        self.file.write(data)

    def close(self) -> None:
        self.file.close()

    def read(self) -> Iterator[str]:
        with open(self.path, "rb") as f:
            while header := f.read(4):
                (n,) = struct.unpack("<I", header)
                yield f.read(n).decode("utf-8")


class _Writer:
    """The output corpus: TinyStories txt (story, then an <|endoftext|> line) or jsonl."""

    def __init__(self, path: Path, tmp: Path) -> None:
        self.path = path
        self.tmp = tmp
        name = path.name.lower()
        self.jsonl = name.endswith((".jsonl", ".jsonl.gz", ".jsonl.zst"))
        compression = detect_compression(path)
        if compression == "gzip":
            import gzip

            self.file = gzip.open(tmp, "wb", compresslevel=6)  # noqa: SIM115
        elif compression == "zstd":
            import zstandard

            self.raw = open(tmp, "wb")  # noqa: SIM115 - closed in close()
            self.file = zstandard.ZstdCompressor(level=6).stream_writer(self.raw)
        else:
            self.file = open(tmp, "wb")  # noqa: SIM115
        self.bytes = 0

    def write(self, story: str) -> None:
        if self.jsonl:
            import json

            line = json.dumps({"text": story}, ensure_ascii=False) + "\n"
        else:
            line = story_record(story)
        data = line.encode("utf-8")
        self.file.write(data)
        self.bytes += len(story.encode("utf-8"))

    def close(self) -> None:
        self.file.close()
        if hasattr(self, "raw"):
            self.raw.close()


def clean(
    inputs: list[str],
    out: str | Path,
    config: CleanConfig | None = None,
    field: str | None = None,
    column: str | None = None,
    show_progress: bool = True,
) -> CleanResult:
    config = (config or CleanConfig()).validate()
    paths = expand_inputs(inputs)
    out = Path(out)
    if out.is_dir():
        raise TinylmError(f"--out {out} is a folder; give a file name (.txt or .jsonl)")
    if out.suffix.lower() not in (".txt", ".jsonl", ".gz", ".zst"):
        raise TinylmError(f"--out {out}: write .txt (TinyStories layout) or .jsonl")
    if any(p.resolve() == out.resolve() for p in paths):
        raise TinylmError(f"--out {out} is also an input; write to a new file")
    check_output_file(out)
    allowed_file = T.load_word_list(config.vocab_file) if config.vocab_file else None
    if config.offensive:
        T.OffensiveWords.load(config.offensive_words)  # a missing list fails before any work
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tinylm-clean-", dir=out.parent))
    try:
        return _run(paths, out, tmp, config, field, column, allowed_file, show_progress)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run(
    paths: list[Path],
    out: Path,
    tmp: Path,
    config: CleanConfig,
    field: str | None,
    column: str | None,
    allowed_file: frozenset[str] | None,
    show_progress: bool,
) -> CleanResult:
    on = enabled_steps(config)
    steps = {name: StepStats(name, kind, title, on[name]) for name, kind, title in STEPS}
    sources = [SourceStats(str(p)) for p in paths]
    source_starts: list[int] = []
    hasher = MinHasher.create(config.num_perm, config.ngram, config.near_threshold)
    spool = _Spool(tmp / "spool.bin")
    signatures = (
        SignatureStore(tmp / "signatures.u32", config.num_perm) if config.near_dedup else None
    )
    band_chunks: list[np.ndarray] = []
    spool_origin = array("q")  # spool ordinal -> global story index
    exact_seen: dict[int, int] = {}
    vocab_counts: Counter = Counter()
    cross = {"exact-dup": 0, "near-dup": 0}
    inflight: deque[tuple[int, int, list[tuple[str, bool]], int]] = deque()
    total = 0

    def source_of(index: int) -> int:
        return bisect.bisect_right(source_starts, index) - 1

    def where(index: int) -> str:
        si = source_of(index)
        return f"{Path(sources[si].path).name} story {index - source_starts[si] + 1}"

    def example(step: str, **item: object) -> None:
        if len(steps[step].examples) < config.examples:
            steps[step].examples.append(item)

    def batches() -> Iterator[list[tuple[str, bool]]]:
        nonlocal total
        for si, path in enumerate(paths):
            source_starts.append(total)
            # any length: the length step drops (and reports) a runaway story
            reader = StoryReader(path, field=field, column=column, errors="replace", max_chars=None)
            batch: list[tuple[str, bool]] = []
            nbytes = 0
            for record in reader.records():
                batch.append(record)
                nbytes += len(record[0].encode("utf-8"))
                if len(batch) == BATCH_STORIES:
                    inflight.append((si, total, batch, nbytes))
                    total += len(batch)
                    yield batch
                    batch, nbytes = [], 0
            if batch:
                inflight.append((si, total, batch, nbytes))
                total += len(batch)
                yield batch
            sources[si].encoding_problems = reader.problem_count
            sources[si].problem_offsets = [str(p) for p in reader.problems]

    compressed = any(detect_compression(p) for p in paths)
    total_bytes = None if compressed else sum(p.stat().st_size for p in paths)
    with OrderedPool(config.worker_count, init_worker, (config,)) as pool:
        with Progress("cleaning", total=total_bytes, unit="B", enabled=show_progress) as bar:
            for result in pool.map(clean_batch, batches()):
                si, start, raw, nbytes = inflight.popleft()
                sources[si].stories += len(raw)
                sources[si].bytes += nbytes
                kept = 0
                keep_rows: list[int] = []
                for k, (dropped, why, fixed) in enumerate(result.outcomes):
                    for step in fixed:
                        steps[step].modified += 1
                    index = start + k
                    if dropped is not None:
                        steps[dropped].removed += 1
                        example(dropped, where=where(index), why=why, text=_snippet(raw[k][0]))
                        continue
                    text, digest = result.texts[kept], result.hashes[kept]
                    kept += 1
                    if config.exact_dedup:
                        first = exact_seen.setdefault(digest, index)
                        if first != index:
                            steps["exact-dup"].removed += 1
                            if source_of(first) != si:
                                cross["exact-dup"] += 1
                            example(
                                "exact-dup",
                                where=where(index),
                                why=f"same as {where(first)}",
                                text=_snippet(text),
                            )
                            continue
                    keep_rows.append(kept - 1)
                    spool.write(text)
                    spool_origin.append(index)
                for step, items in result.fixes.items():
                    for k, before, after in items:
                        example(step, where=where(start + k), before=before, after=after)
                if signatures is not None and result.signatures is not None and keep_rows:
                    rows = result.signatures[keep_rows]
                    signatures.append(rows)
                    band_chunks.append(hasher.band_hashes(rows))
                if result.word_counts:
                    vocab_counts.update(result.word_counts)
                bar.advance(nbytes)
        spool.close()
        input_stories = total
        if input_stories == 0:
            raise TinylmError(
                f"no stories found in {', '.join(map(str, paths))}: the input is empty"
            )

        # -- near duplicates, across all sources at once --
        survivors = len(spool_origin)
        near = np.full(survivors, -1, dtype=np.int64)
        if signatures is not None:
            sig = signatures.finish()
            bands = (
                np.concatenate(band_chunks)
                if band_chunks
                else np.zeros((0, hasher.bands), dtype=np.uint64)
            )
            with Progress(
                "near duplicates", total=hasher.bands, unit="bands", enabled=show_progress
            ) as bar:
                near = find_near_duplicates(bands, sig, config.near_threshold, bar.advance)
            del bands, sig
        origin = np.frombuffer(spool_origin, dtype=np.int64) if survivors else np.zeros(0, np.int64)
        dropped_near = np.flatnonzero(near >= 0)
        wanted_reps = {int(near[o]) for o in dropped_near[: config.examples]}
        for o in dropped_near:
            if source_of(int(origin[o])) != source_of(int(origin[near[o]])):
                cross["near-dup"] += 1

        allowed: frozenset[str] | None = allowed_file
        if config.vocab_top is not None:
            allowed = frozenset(w for w, _ in vocab_counts.most_common(config.vocab_top))

        # -- pass 2: write the survivors --
        writer = _Writer(out, tmp / "out.tmp")
        out_counts: Counter = Counter()
        lengths = array("i")
        rep_texts: dict[int, str] = {}
        queue: deque[tuple[list[str], list[int]]] = deque()

        def finish_batches() -> Iterator[list[str]]:
            batch: list[str] = []
            ordinals: list[int] = []
            for o, story in enumerate(spool.read()):
                if o in wanted_reps:
                    rep_texts[o] = story
                if near[o] >= 0:
                    steps["near-dup"].removed += 1
                    rep = int(near[o])
                    example(
                        "near-dup",
                        where=where(int(origin[o])),
                        why=f"similar to {where(int(origin[rep]))}",
                        text=_snippet(story),
                        duplicate_of=_snippet(rep_texts.get(rep, "")),
                    )
                    continue
                batch.append(story)
                ordinals.append(o)
                if len(batch) == BATCH_STORIES:
                    queue.append((batch, ordinals))
                    yield batch
                    batch, ordinals = [], []
            if batch:
                queue.append((batch, ordinals))
                yield batch

        try:
            with Progress("writing", total=survivors, unit="stories", enabled=show_progress) as bar:
                for results, counts in pool.map(
                    finish_batch, finish_batches(), allowed, config.vocab_max_oov
                ):
                    texts, ordinals = queue.popleft()
                    out_counts.update(counts)
                    for story, o, (keep, why, n_words) in zip(
                        texts, ordinals, results, strict=True
                    ):
                        index = int(origin[o])
                        if not keep:
                            steps["vocabulary"].removed += 1
                            example("vocabulary", where=where(index), why=why, text=_snippet(story))
                            continue
                        writer.write(story)
                        lengths.append(n_words)
                        sources[source_of(index)].kept += 1
                    bar.advance(len(ordinals))
        finally:
            writer.close()

    output_stories = len(lengths)
    entered = input_stories
    for name, _, _ in STEPS:
        steps[name].entered = entered
        entered -= steps[name].removed
    assert entered == output_stories, (entered, output_stories)
    if output_stories == 0:
        removed = ", ".join(f"{s.name} {s.removed:,}" for s in steps.values() if s.removed)
        raise TinylmError(
            f"all {input_stories:,} stories were removed ({removed}); nothing written to {out}. "
            "Loosen the filters (see `tinylm data clean --help`)"
        )
    fsync_replace(writer.tmp, out)
    return CleanResult(
        out=out,
        config=config,
        input_stories=input_stories,
        output_stories=output_stories,
        input_bytes=sum(s.bytes for s in sources),
        output_bytes=writer.bytes,
        steps=[steps[name] for name, _, _ in STEPS],
        sources=sources,
        vocab_size=len(out_counts),
        top_words=out_counts.most_common(100),
        length_words=np.frombuffer(lengths, dtype=np.int32).copy()
        if lengths
        else np.zeros(0, np.int32),
        cross_source_duplicates=cross,
        bands=(hasher.bands, hasher.rows) if config.near_dedup else None,
    )
