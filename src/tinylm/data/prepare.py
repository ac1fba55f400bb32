"""`tinylm data prepare`: stories -> flat token shards (train.bin / val.bin) + meta.json.

Every story becomes BOS, its tokens, EOS, appended to one flat array per split (uint16 when the
vocabulary fits, else uint32), which training memory-maps. The split is by story, so no story
leaks half into validation. Files are written under temp names and renamed at the end, so an
interrupted run never leaves shards that look complete.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tinylm.data.readers import expand_inputs, read_stories
from tinylm.errors import TinylmError
from tinylm.fileio import atomic_write_json, fsync_replace
from tinylm.progress import Progress
from tinylm.tokenizer import Tokenizer, byte_tokenizer, train_tokenizer

META_NAME = "meta.json"
TOKENIZER_NAME = "tokenizer.json"
FORMAT = "tinylm-tokens"
FORMAT_VERSION = 1
BATCH_STORIES = 2048


@dataclass
class SplitStats:
    stories: int = 0
    tokens: int = 0
    bytes: int = 0


@dataclass
class PrepareResult:
    out_dir: Path
    splits: dict[str, SplitStats] = field(default_factory=dict)
    vocab_size: int = 0
    dtype: str = "uint16"


def token_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16) if vocab_size <= 2**16 else np.dtype(np.uint32)


def is_val(index: int, val_fraction: float) -> bool:
    """Every k-th story goes to validation: deterministic, evenly spread over all sources, and
    story 0 always lands there so even a small corpus gets a validation split."""
    if val_fraction <= 0:
        return False
    period = max(2, round(1 / val_fraction))
    return index % period == 0


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def prepare(
    inputs: list[str],
    out_dir: str | Path,
    tokenizer_path: str | Path | None = None,
    vocab_size: int | None = None,
    val_fraction: float = 0.05,
    field: str | None = None,
    column: str | None = None,
    show_progress: bool = True,
    byte_level: bool = False,
) -> PrepareResult:
    """`byte_level`: byte shards (vocab 260, no trained tokenizer) for byte-level models."""
    if sum((tokenizer_path is not None, vocab_size is not None, byte_level)) != 1:
        raise TinylmError(
            "pass exactly one of --tokenizer FILE or --vocab-size N (or --bytes for byte shards)"
        )
    if not 0 <= val_fraction < 0.5:
        raise TinylmError(f"--val-fraction must be in [0, 0.5), got {val_fraction}")
    paths = expand_inputs(inputs)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise TinylmError(f"--out {out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)

    def stories() -> Iterator[tuple[int, str]]:
        index = 0
        for path in paths:
            for story in read_stories(path, field=field, column=column):
                yield index, story
                index += 1

    if tokenizer_path is not None:
        tokenizer = Tokenizer.load(tokenizer_path)
    elif byte_level:
        tokenizer = byte_tokenizer()
    else:
        # Train on the training split only: validation text must stay unseen, tokenizer included.
        with Progress(
            "training tokenizer", total=None, unit="stories", enabled=show_progress
        ) as bar:

            def train_texts() -> Iterator[str]:
                for i, story in stories():
                    bar.advance(1)
                    if not is_val(i, val_fraction):
                        yield story

            tokenizer = train_tokenizer(train_texts(), vocab_size, show_progress=False)
    dtype = token_dtype(tokenizer.vocab_size)
    if tokenizer.bos_id is None:
        raise TinylmError(f"tokenizer {tokenizer.source} has no BOS token; tinylm needs one")

    result = PrepareResult(out_dir=out, vocab_size=tokenizer.vocab_size, dtype=dtype.name)
    names = {"train": out / "train.bin", "val": out / "val.bin"}
    tmp = {split: path.with_name(f".{path.name}.tmp") for split, path in names.items()}
    stats = {split: SplitStats() for split in names}
    source_stats = []
    total_bytes = sum(p.stat().st_size for p in paths)
    try:
        with contextlib.ExitStack() as stack:
            files = {split: stack.enter_context(open(tmp[split], "wb")) for split in names}
            bar = stack.enter_context(
                Progress("tokenizing", total=total_bytes, unit="B", enabled=show_progress)
            )
            index = 0
            for path in paths:
                source = {"path": str(path), "sha256": sha256_file(path), "stories": 0}
                batch: list[tuple[str, str]] = []
                for story in read_stories(path, field=field, column=column):
                    split = "val" if is_val(index, val_fraction) else "train"
                    batch.append((split, story))
                    index += 1
                    source["stories"] += 1
                    if len(batch) == BATCH_STORIES:
                        bar.advance(_write_batch(batch, tokenizer, dtype, files, stats))
                        batch = []
                if batch:
                    bar.advance(_write_batch(batch, tokenizer, dtype, files, stats))
                source_stats.append(source)
            bar.update(completed=total_bytes)
        if stats["train"].stories == 0:
            raise TinylmError(
                f"no stories found in {', '.join(map(str, paths))}: the input is empty "
                "(TinyStories txt separates stories with '<|endoftext|>' lines)"
            )
        if val_fraction > 0 and stats["val"].stories == 0:
            raise TinylmError("the corpus is too small for a validation split; add stories")
        # Unmark the folder before swapping shards in, so a crash mid-swap cannot pair new
        # shards with an old meta.json.
        (out / META_NAME).unlink(missing_ok=True)
        for split in names:
            fsync_replace(tmp[split], names[split])
    except BaseException:
        for path in tmp.values():
            path.unlink(missing_ok=True)
        raise

    tokenizer.save(out / TOKENIZER_NAME)
    result.splits = stats
    meta = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "tokenizer": TOKENIZER_NAME,
        "tokenizer_sha256": tokenizer.sha256(),
        "vocab_size": tokenizer.vocab_size,
        "bos_id": tokenizer.bos_id,
        "eos_id": tokenizer.eos_id,
        "dtype": dtype.name,
        "val_fraction": val_fraction,
        "splits": {k: vars(v) for k, v in stats.items()},
        "sources": source_stats,
    }
    # meta.json last: its presence is what marks the folder as a complete dataset.
    atomic_write_json(out / META_NAME, meta)
    return result


def _write_batch(
    batch: list[tuple[str, str]],
    tokenizer: Tokenizer,
    dtype: np.dtype,
    files: dict,
    stats: dict[str, SplitStats],
) -> int:
    encoded = tokenizer.encode_batch([story for _, story in batch], bos=True, eos=True)
    consumed = 0
    for split in ("train", "val"):
        rows = [ids for (s, _), ids in zip(batch, encoded, strict=True) if s == split]
        if not rows:
            continue
        flat = np.fromiter((t for ids in rows for t in ids), dtype=dtype)
        flat.tofile(files[split])
        stats[split].stories += len(rows)
        stats[split].tokens += len(flat)
    for split, story in batch:
        n = len(story.encode("utf-8"))
        stats[split].bytes += n
        consumed += n
    return consumed
