"""`tinylm data prepare`: stories -> flat token shards (train.bin / val.bin) + meta.json.

Every story becomes BOS, its tokens, EOS, appended to one flat array per split (uint16 when the
vocabulary fits, else uint32), which training memory-maps. The split is by story, so no story
leaks half into validation. Files are written under temp names and renamed at the end, so an
interrupted run never leaves shards that look complete.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import shutil
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tinylm.data.instruct import (
    PROMPT_FORMAT,
    InstructRecord,
    encode_examples,
    looks_instruct,
    read_instruct,
    render_prompt,
    render_record,
)
from tinylm.data.readers import expand_inputs, read_stories
from tinylm.errors import TinylmError
from tinylm.fileio import atomic_write_json, check_writable_place, fsync_replace, sha256_file
from tinylm.interop.tokenizer_files import load_tokenizer_file
from tinylm.locks import LOCK_NAME, locked
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
    instruct: bool = False
    skipped: int = 0  # instruct records without a story


def token_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16) if vocab_size <= 2**16 else np.dtype(np.uint32)


def is_val(index: int, val_fraction: float) -> bool:
    """Every k-th story goes to validation: deterministic, evenly spread over all sources, and
    story 0 always lands there so even a small corpus gets a validation split."""
    if val_fraction <= 0:
        return False
    period = max(2, round(1 / val_fraction))
    return index % period == 0


def prepare(
    inputs: list[str],
    out_dir: str | Path,
    tokenizer_path: str | Path | None = None,
    vocab_size: int | None = None,
    val_fraction: float = 0.05,
    field: str | None = None,
    column: str | None = None,
    show_progress: bool = True,
    instruct: bool | None = None,
    byte_level: bool = False,
) -> PrepareResult:
    """Tokenize stories into flat shards. `instruct` (None: detected from the first file) reads
    TinyStories-Instruct records instead, renders each in tinylm's instruct format and writes a
    loss mask beside each shard (train.mask / val.mask: uint8, 1 where the token is part of the
    story or its EOS), so fine-tuning can learn the stories and not the instructions.
    `byte_level`: byte shards (vocab 260, no trained tokenizer) for byte-level models."""
    if sum((tokenizer_path is not None, vocab_size is not None, byte_level)) != 1:
        raise TinylmError(
            "pass exactly one of --tokenizer FILE or --vocab-size N (or --bytes for byte shards)"
        )
    if not 0 <= val_fraction < 0.5:
        raise TinylmError(f"--val-fraction must be in [0, 0.5), got {val_fraction}")
    paths = expand_inputs(inputs)
    out = Path(out_dir)
    previous = _previous_tokenizer(out)
    check_writable_place(out / META_NAME, "--out")
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    try:
        with locked(out, "the data folder"):
            return _prepare(
                paths, out, previous, tokenizer_path, vocab_size, val_fraction, field, column,
                show_progress, instruct, byte_level,
            )  # fmt: skip
    except BaseException:
        if created:  # nothing of a failed preparation is left behind
            shutil.rmtree(out, ignore_errors=True)
        raise


def _previous_tokenizer(out: Path) -> str | None:
    """The tokenizer hash of a prepared folder `out` already is (it may be prepared again
    with the same tokenizer), None for a new or empty folder; any other folder is refused."""
    if out.exists() and not out.is_dir():
        raise TinylmError(f"--out {out} exists and is not a folder")
    if not out.is_dir() or not any(p.name != LOCK_NAME for p in out.iterdir()):
        return None
    try:
        meta = json.loads((out / META_NAME).read_text(encoding="utf-8"))
        return str(meta["tokenizer_sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        raise TinylmError(
            f"--out {out} is not empty and not a prepared data folder; choose a new folder"
        ) from None


def _prepare(
    paths: list[Path],
    out: Path,
    previous: str | None,
    tokenizer_path: str | Path | None,
    vocab_size: int | None,
    val_fraction: float,
    field: str | None,
    column: str | None,
    show_progress: bool,
    instruct: bool | None,
    byte_level: bool,
) -> PrepareResult:
    if instruct is None:
        instruct = looks_instruct(paths[0], field=field, column=column)
    skipped = [0]

    def read(path: Path) -> Iterator[str | InstructRecord]:
        if not instruct:
            yield from read_stories(path, field=field, column=column)
            return
        for record in read_instruct(path, field=field, column=column):
            if record.story:
                yield record
            else:
                skipped[0] += 1

    def stories() -> Iterator[tuple[int, str | InstructRecord]]:
        index = 0
        for path in paths:
            for story in read(path):
                yield index, story
                index += 1

    if tokenizer_path is not None:
        tokenizer = load_tokenizer_file(tokenizer_path)
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
                        yield _text(story)

            tokenizer = train_tokenizer(train_texts(), vocab_size, show_progress=False)
    dtype = token_dtype(tokenizer.vocab_size)
    if tokenizer.bos_id is None:
        raise TinylmError(f"tokenizer {tokenizer.source} has no BOS token; tinylm needs one")
    if previous is not None and previous != tokenizer.sha256():
        raise TinylmError(
            f"--out {out} holds data prepared with another tokenizer, and runs trained on it "
            "need it as it is; choose a new folder (or delete that one)"
        )

    result = PrepareResult(out_dir=out, vocab_size=tokenizer.vocab_size, dtype=dtype.name)
    names = {"train": out / "train.bin", "val": out / "val.bin"}
    if instruct:
        names.update({f"{split}.mask": out / f"{split}.mask" for split in ("train", "val")})
    tmp = {split: path.with_name(f".{path.name}.tmp") for split, path in names.items()}
    stats = {split: SplitStats() for split in ("train", "val")}
    story_tokens = {split: 0 for split in stats}
    sample_prompt: list[str] = []
    source_stats = []
    total_bytes = sum(p.stat().st_size for p in paths)
    try:
        with contextlib.ExitStack() as stack:
            files = {split: stack.enter_context(open(tmp[split], "wb")) for split in names}
            skipped[0] = 0  # the tokenizer pass above read the files once already
            bar = stack.enter_context(
                Progress("tokenizing", total=total_bytes, unit="B", enabled=show_progress)
            )
            # Tokenize batch k in a thread (the Rust encoder releases the GIL and uses every
            # core) while this thread reads and splits batch k+1.
            encoder = stack.enter_context(ThreadPoolExecutor(1))
            pending: Future | None = None
            index = 0
            for path in paths:
                source = {"path": str(path), "sha256": sha256_file(path), "stories": 0}
                batch: list[tuple[str, str | InstructRecord]] = []
                for story in read(path):
                    split = "val" if is_val(index, val_fraction) else "train"
                    if split == "val" and instruct and not sample_prompt:
                        sample_prompt.append(render_prompt(story))  # type: ignore[arg-type]
                    batch.append((split, story))
                    index += 1
                    source["stories"] += 1
                    if len(batch) == BATCH_STORIES:
                        if pending is not None:
                            bar.advance(pending.result())
                        pending = encoder.submit(
                            _write_batch, batch, tokenizer, dtype, files, stats, story_tokens
                        )
                        batch = []
                if batch:
                    if pending is not None:
                        bar.advance(pending.result())
                    pending = encoder.submit(
                        _write_batch, batch, tokenizer, dtype, files, stats, story_tokens
                    )
                source_stats.append(source)
            if pending is not None:
                bar.advance(pending.result())
            bar.update(completed=total_bytes)
        if stats["train"].stories == 0:
            held = stats["val"].stories
            if held:
                raise TinylmError(
                    f"{', '.join(map(str, paths))} holds {held} stor{'y' if held == 1 else 'ies'}"
                    f", all held out for validation (--val-fraction {val_fraction:g}); give more "
                    "stories, or --val-fraction 0 to train on every one"
                )
            if skipped[0]:
                raise TinylmError(
                    f"none of the {skipped[0]} instruct records in {', '.join(map(str, paths))} "
                    "has a story (a 'Story:' field); nothing to train on"
                )
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
        if not instruct:  # masks of an earlier instruct preparation would no longer match
            for split in stats:
                (out / f"{split}.mask").unlink(missing_ok=True)
    except BaseException:
        for path in tmp.values():
            path.unlink(missing_ok=True)
        raise

    tokenizer.save(out / TOKENIZER_NAME)
    result.splits = stats
    result.instruct = instruct
    result.skipped = skipped[0]
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
    if instruct:
        meta["instruct"] = {
            "prompt_format": PROMPT_FORMAT,
            "loss_mask": {split: f"{split}.mask" for split in stats},
            "story_tokens": story_tokens,
            "skipped_without_story": skipped[0],
            "sample_prompt": sample_prompt[0] if sample_prompt else None,
        }
    # meta.json last: its presence is what marks the folder as a complete dataset.
    atomic_write_json(out / META_NAME, meta)
    return result


def _text(item: str | InstructRecord) -> str:
    return item if isinstance(item, str) else render_record(item)


def _write_batch(
    batch: list[tuple[str, str | InstructRecord]],
    tokenizer: Tokenizer,
    dtype: np.dtype,
    files: dict,
    stats: dict[str, SplitStats],
    story_tokens: dict[str, int],
) -> int:
    """Tokenize a batch and append each split's examples to its shard (and loss mask, for
    instruct records); returns the bytes of text consumed. Plain stories are framed BOS..EOS
    vectorised: per-token Python work is the cost that dominates a naive `for t in ids` loop."""
    items = [item for _, item in batch]
    masks: list[list[int]] | None = None
    if isinstance(items[0], InstructRecord):
        pairs = encode_examples(tokenizer, items)  # type: ignore[arg-type]
        encoded = [ids for ids, _ in pairs]
        masks = [mask for _, mask in pairs]
    else:
        encoded = tokenizer.encode_batch(items)  # type: ignore[arg-type]  # Rust-parallel
    consumed = 0
    for split in ("train", "val"):
        rows = [i for i, (s, _) in enumerate(batch) if s == split]
        if not rows:
            continue
        if masks is None:
            flat = _frame([encoded[i] for i in rows], tokenizer.bos_id, tokenizer.eos_id, dtype)
        else:
            chain = itertools.chain.from_iterable
            flat = np.fromiter(chain(encoded[i] for i in rows), dtype=dtype)
            mask = np.fromiter(chain(masks[i] for i in rows), dtype=np.uint8)
            mask.tofile(files[f"{split}.mask"])
            story_tokens[split] += int(mask.sum())
        flat.tofile(files[split])
        stats[split].stories += len(rows)
        stats[split].tokens += len(flat)
    for split, item in batch:
        n = len(_text(item).encode("utf-8"))
        stats[split].bytes += n
        consumed += n
    return consumed


def _frame(rows: list[list[int]], bos: int | None, eos: int, dtype: np.dtype) -> np.ndarray:
    """[BOS, *ids, EOS] for every row, concatenated into one flat array."""
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    body = np.fromiter(itertools.chain.from_iterable(rows), dtype=dtype, count=int(lengths.sum()))
    extra = 2 if bos is not None else 1
    out = np.empty(len(body) + extra * len(rows), dtype=dtype)
    story = np.repeat(np.arange(len(rows)), lengths)  # which row each body token belongs to
    first = (extra - 1) if bos is not None else 0
    out[np.arange(len(body)) + extra * story + first] = body
    ends = np.cumsum(lengths + extra)  # one past each row's EOS
    out[ends - 1] = eos
    if bos is not None:
        out[ends - lengths - extra] = bos
    return out
