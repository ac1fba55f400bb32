"""Reading story files and preparing token shards from them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import first_stories, run_cli

from tinylm.data.dataset import BatchSampler, load_meta, open_tokens
from tinylm.data.prepare import is_val, prepare, token_dtype
from tinylm.data.readers import read_stories
from tinylm.errors import TinylmError
from tinylm.tokenizer import Tokenizer

# -- readers ------------------------------------------------------------------------------------


def test_tinystories_txt_layout(tinystories_v1) -> None:
    stories = list(read_stories(tinystories_v1))
    assert len(stories) == 2317  # 2,316 complete + the one cut mid-sentence at the end
    assert stories[0].startswith("One day, a little girl named Lily found a needle")
    assert all("<|endoftext|>" not in s for s in stories)
    assert "\n" in stories[0]  # paragraphs inside a story are kept


def test_blank_line_separated_txt(tmp_path) -> None:
    path = tmp_path / "plain.txt"
    path.write_text("First story.\nStill first.\n\n\nSecond story.\n\nThird.\n")
    assert list(read_stories(path)) == ["First story.\nStill first.", "Second story.", "Third."]


def test_jsonl_field_detected_and_given(tmp_path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text('{"story": "A cat.", "id": 1}\n\n{"story": "A dog.", "id": 2}\n')
    assert list(read_stories(path)) == ["A cat.", "A dog."]
    zh = tmp_path / "zh.jsonl"
    zh.write_text('{"story_zh": "小猫。", "story": "A cat."}\n', encoding="utf-8")
    assert list(read_stories(zh, field="story_zh")) == ["小猫。"]
    with pytest.raises(TinylmError, match="no field 'text'"):
        list(read_stories(zh, field="text"))


def test_json_array_of_objects(tmp_path) -> None:
    path = tmp_path / "data00.json"  # the TinyStories_all_data layout
    path.write_text(json.dumps([{"story": "One.", "summary": "x"}, {"story": "Two."}]))
    assert list(read_stories(path)) == ["One.", "Two."]


def test_csv_with_spaces_after_commas(chinese_csv) -> None:
    stories = list(read_stories(chinese_csv))
    assert len(stories) == 2277
    assert stories[0].startswith("在一片遠離世界的小島上")


def test_csv_unknown_column_names_the_columns(chinese_csv) -> None:
    with pytest.raises(TinylmError, match=r"no column 'text'.*names, genre, theme, story"):
        list(read_stories(chinese_csv, column="text"))


def test_broken_utf8_names_file_and_offset(tmp_path) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(b"Good story.\n<|endoftext|>\nBad \xff byte here.\n")
    with pytest.raises(TinylmError, match=r"bad.txt: invalid UTF-8 at byte offset 30"):
        list(read_stories(path))


def test_unknown_format_and_missing_file(tmp_path) -> None:
    (tmp_path / "x.docx").write_bytes(b"PK")
    with pytest.raises(TinylmError, match=r"unknown file type '\.docx'"):
        list(read_stories(tmp_path / "x.docx"))
    with pytest.raises(TinylmError, match="input file not found"):
        list(read_stories(tmp_path / "nope.txt"))


# -- prepare --------------------------------------------------------------------------------------


def test_prepare_writes_bos_story_eos_split_by_story(en_data, tinystories_v1) -> None:
    meta = load_meta(en_data)
    tok = Tokenizer.load(meta.tokenizer_path)
    stories = list(read_stories(tinystories_v1))
    val_stories = [s for i, s in enumerate(stories) if is_val(i, 0.05)]
    val = np.asarray(open_tokens(meta, "val"))
    train = np.asarray(open_tokens(meta, "train"))
    assert val.dtype == np.uint16
    assert meta.splits["val"]["stories"] == len(val_stories)
    assert meta.splits["train"]["stories"] + len(val_stories) == len(stories)
    # every story is BOS ... EOS, whole, and decodes back to exactly its text
    for split, arr in (("val", val), ("train", train)):
        assert (arr == tok.bos_id).sum() == meta.splits[split]["stories"]
        assert (arr == tok.eos_id).sum() == meta.splits[split]["stories"]
    bos = np.flatnonzero(val == tok.bos_id)
    eos = np.flatnonzero(val == tok.eos_id)
    decoded = [tok.decode(val[b + 1 : e].tolist()) for b, e in zip(bos, eos, strict=True)]
    assert decoded == val_stories
    assert meta.splits["val"]["bytes"] == sum(len(s.encode()) for s in val_stories)
    raw = json.loads((en_data / "meta.json").read_text())
    assert raw["sources"][0]["sha256"] and raw["sources"][0]["stories"] == len(stories)


def test_prepare_trains_its_own_tokenizer_from_mixed_formats(tmp_path, tinystories_v2) -> None:
    jsonl = tmp_path / "more.jsonl"
    jsonl.write_text(
        "".join(json.dumps({"text": s}) + "\n" for s in first_stories(tinystories_v2, 300))
    )
    out = tmp_path / "data"
    result = run_cli(
        "data",
        "prepare",
        str(tinystories_v2),
        str(jsonl),
        "--out",
        str(out),
        "--vocab-size",
        "700",
        "--val-fraction",
        "0.1",
    )
    assert result.returncode == 0, result.stderr
    meta = load_meta(out)
    assert meta.vocab_size == 700
    assert len(json.loads((out / "meta.json").read_text())["sources"]) == 2
    assert "prepared" in result.stdout


def test_large_vocab_uses_uint32(tmp_path, en_tokenizer) -> None:
    tok = Tokenizer.load(en_tokenizer)
    tok.hf.add_tokens([f"word{i}" for i in range(66_000)])  # push ids past 65,535
    big = tmp_path / "big.json"
    tok.save(big)
    corpus = tmp_path / "c.txt"
    corpus.write_text("".join(f"hello word{i} and word65999\n<|endoftext|>\n" for i in range(40)))
    prepare([str(corpus)], tmp_path / "d", tokenizer_path=big, show_progress=False)
    meta = load_meta(tmp_path / "d")
    assert token_dtype(meta.vocab_size) == np.uint32 and meta.dtype == np.uint32
    ids = np.asarray(open_tokens(meta, "train"))
    assert ids.max() >= 65_536 and Tokenizer.load(big).decode(ids[:12].tolist()).startswith("hello")


def test_empty_corpus_fails_cleanly_and_leaves_nothing(tmp_path, en_tokenizer) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n<|endoftext|>\n")
    out = tmp_path / "out"
    result = run_cli(
        "data", "prepare", str(empty), "--out", str(out), "--tokenizer", str(en_tokenizer)
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "input is empty" in result.stderr
    assert "Traceback" not in result.stderr
    assert (
        not (out / "meta.json").exists()
        and not list(out.glob("*.bin"))
        and not list(out.glob(".*"))
    )


def test_broken_file_midway_keeps_the_previous_dataset(
    tmp_path, en_tokenizer, tinystories_v1
) -> None:
    out = tmp_path / "d"
    prepare([str(tinystories_v1)], out, tokenizer_path=en_tokenizer, show_progress=False)
    before = (out / "train.bin").read_bytes()
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"fine\n<|endoftext|>\n\xc3\x28 broken\n")
    with pytest.raises(TinylmError, match="invalid UTF-8"):
        prepare(
            [str(tinystories_v1), str(bad)], out, tokenizer_path=en_tokenizer, show_progress=False
        )
    assert (out / "train.bin").read_bytes() == before
    assert load_meta(out).splits["train"]["tokens"] * 2 == len(before)
    assert not list(out.glob(".*.tmp"))


# -- batches ---------------------------------------------------------------------------------------


def test_batches_are_a_pure_function_of_step_and_cover_each_epoch(en_data) -> None:
    tokens = np.asarray(open_tokens(load_meta(en_data), "train"))
    a = BatchSampler(tokens, 64, 8, seed=1)
    b = BatchSampler(tokens, 64, 8, seed=1)
    x1, y1 = a.batch(step=7, micro=1, grad_accum=2)
    b.batch(step=0, micro=0, grad_accum=2)  # a different history must not matter
    x2, y2 = b.batch(step=7, micro=1, grad_accum=2)
    assert (x1 == x2).all() and (y1 == y2).all()
    assert (x1[:, 1:] == y1[:, :-1]).all()  # targets are inputs shifted by one
    # one epoch visits every window exactly once
    seen = set()
    per_step = 8 * 2
    for step in range(a.windows // per_step):
        for micro in range(2):
            x, _ = a.batch(step, micro, 2)
            seen.update(row.numpy().tobytes() for row in x)
    assert len(seen) >= 0.99 * (a.windows // per_step) * per_step


def test_data_parallel_ranks_read_disjoint_windows(en_data) -> None:
    tokens = np.asarray(open_tokens(load_meta(en_data), "train"))
    r0 = BatchSampler(tokens, 64, 4, seed=3, rank=0, world_size=2).batch(5, 0, 1)[0]
    r1 = BatchSampler(tokens, 64, 4, seed=3, rank=1, world_size=2).batch(5, 0, 1)[0]
    single = BatchSampler(tokens, 64, 8, seed=3).batch(5, 0, 1)[0]
    assert (single == np.concatenate([r0, r1])).all()


def test_damaged_shard_is_detected(tmp_path, en_data) -> None:
    import shutil

    copy = tmp_path / "d"
    shutil.copytree(en_data, copy)
    with open(copy / "train.bin", "r+b") as f:
        f.truncate(1000)
    with pytest.raises(TinylmError, match="damaged"):
        open_tokens(load_meta(copy), "train")
