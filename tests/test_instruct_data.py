"""TinyStories-Instruct records: the reader, the one prompt format, the loss mask in prepared
data, and the batches that train on stories only."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch
from conftest import run_cli

from tinylm.data.dataset import BatchSampler, load_meta, open_mask, open_tokens
from tinylm.data.instruct import (
    InstructRecord,
    encode_examples,
    looks_instruct,
    make_record,
    parse_record,
    prompt_ids,
    read_instruct,
    render_prompt,
    render_record,
)
from tinylm.data.prepare import prepare
from tinylm.errors import TinylmError
from tinylm.synth import format_instruct, generate_story
from tinylm.tokenizer import Tokenizer

# Laid out as the real TinyStoriesInstruct files are: fields in varying order, 'Story: ' with a
# trailing space and a blank line after it, multi-line stories, a summary after the story,
# records missing fields, and one record without a story.
HAND_MADE = """Features: Dialogue
Words: quit, oak, gloomy
Summary: Sara and Ben play in the park until Sara wants to go home.
Story:\x20

Sara and Ben were playing in the park. They liked the big oak tree.
"Ben, I want to quit," she said. "It is gloomy."

Ben nodded. They went home.
<|endoftext|>
Summary: Lily takes a bike and gets hurt.
Words: ride, work, upset
Features: Dialogue, BadEnding, MoralValue
Random sentence: She rode it every day after work.
Story:\x20

Lily liked to ride her bike. She rode it every day after work.
Lily was upset. She fell and cried.
<|endoftext|>
Words: dog, run, happy
Story:\x20
Tom had a dog. The dog ran to the gate, happy.
Summary: Tom's dog runs to the gate.
<|endoftext|>
Random sentence: The sun was hot.
features: twist
Story: The sun was hot. Then it snowed!
<|endoftext|>
Summary: A record that only has a summary.
<|endoftext|>
Story:\x20
Just a story, nothing asked.
<|endoftext|>
"""


@pytest.fixture
def hand_made(tmp_path):
    path = tmp_path / "instruct.txt"
    path.write_text(HAND_MADE, encoding="utf-8")
    return path


def test_reader_takes_fields_in_any_order_and_missing(hand_made) -> None:
    records = list(read_instruct(hand_made))
    assert len(records) == 6
    first, second, third, fourth, fifth, sixth = records
    assert first.features == ("Dialogue",)
    assert first.words == ("quit", "oak", "gloomy")
    assert first.summary == "Sara and Ben play in the park until Sara wants to go home."
    assert first.sentence is None
    # multi-line story with its inner blank line; the blank line after 'Story: ' is layout
    assert first.story == (
        "Sara and Ben were playing in the park. They liked the big oak tree.\n"
        '"Ben, I want to quit," she said. "It is gloomy."\n\nBen nodded. They went home.'
    )
    assert second.features == ("Dialogue", "BadEnding", "MoralValue")
    assert second.words == ("ride", "work", "upset")
    assert second.sentence == "She rode it every day after work."
    assert second.story.endswith("She fell and cried.")
    # a summary after the story is a summary, not story text
    assert third.summary == "Tom's dog runs to the gate."
    assert third.story == "Tom had a dog. The dog ran to the gate, happy."
    assert third.features == ()
    # labels in another case still count; the story on the label's own line too
    assert fourth.sentence == "The sun was hot."
    assert fourth.features == ("Twist",)
    assert fourth.story == "The sun was hot. Then it snowed!"
    assert fifth.story == "" and fifth.summary == "A record that only has a summary."
    assert sixth == InstructRecord(story="Just a story, nothing asked.")
    assert looks_instruct(hand_made)


def test_feature_names_are_normalised_and_unknown_ones_kept() -> None:
    record = parse_record("Features: dialogue, Bad Ending, Friendship\nStory: \nHi.")
    assert record is not None
    assert record.features == ("Dialogue", "BadEnding", "Friendship")
    assert parse_record("Once upon a time there was a dog.") is None


def test_rendering_is_canonical_and_round_trips(hand_made) -> None:
    for record in read_instruct(hand_made):
        text = render_record(record)
        assert parse_record(text) == record
    second = list(read_instruct(hand_made))[1]
    assert render_prompt(second) == (
        "Features: Dialogue, BadEnding, MoralValue\n"
        "Words: ride, work, upset\n"
        "Summary: Lily takes a bike and gets hurt.\n"
        "Random sentence: She rode it every day after work.\n"
        "Story: \n"
    )
    # the generator's records are this same format
    story = generate_story("en", 3, 4)
    record = parse_record(format_instruct(story, "en"))
    assert record is not None and render_record(record) == format_instruct(story, "en")
    assert record.words == story.words and record.story == story.text


def test_unknown_feature_is_one_line_error_with_suggestion() -> None:
    with pytest.raises(TinylmError) as err:
        make_record("dog", "Dialogue,Twists")
    assert "unknown story feature 'Twists' (did you mean 'Twist'?)" in str(err.value)
    assert "\n" not in str(err.value)
    assert make_record("dog, ball", "twist,DIALOGUE").features == ("Dialogue", "Twist")


def test_plain_story_files_are_not_instruct(tinystories_v1) -> None:
    assert not looks_instruct(tinystories_v1)


# -- prepared data and its loss mask ----------------------------------------------------------


@pytest.fixture(scope="module")
def instruct_data(tmp_path_factory, en_tokenizer):
    """Generated instruct records (en) prepared with a real tokenizer trained on TinyStories."""
    from tinylm.synth import write_corpus

    root = tmp_path_factory.mktemp("instruct")
    source = root / "instruct.txt"
    write_corpus(source, "en", 300, seed=5, instruct=True)
    out = root / "data"
    prepare([str(source)], out, tokenizer_path=en_tokenizer, show_progress=False)
    return source, out


def _segments(tokens: np.ndarray, bos: int) -> list[tuple[int, int]]:
    starts = [*np.flatnonzero(tokens == bos).tolist(), len(tokens)]
    return list(itertools.pairwise(starts))


def test_masked_in_tokens_decode_to_exactly_the_stories(instruct_data) -> None:
    source, out = instruct_data
    meta = load_meta(out)  # detected as instruct without --instruct
    assert meta.has_mask and meta.instruct["prompt_format"] == "tinylm-instruct-1"
    tokenizer = Tokenizer.load(meta.tokenizer_path)
    records = list(read_instruct(source))
    val_records = records[::20]  # every 20th record is validation (val_fraction 0.05)
    train_records = [r for i, r in enumerate(records) if i % 20]
    for split, expected in (("train", train_records), ("val", val_records)):
        tokens, mask = open_tokens(meta, split), open_mask(meta, split)
        assert mask is not None and len(mask) == len(tokens)
        segments = _segments(tokens, meta.bos_id)
        assert len(segments) == len(expected)
        for (begin, end), record in zip(segments, expected, strict=True):
            ids, bits = tokens[begin:end], mask[begin:end]
            story_ids = ids[bits == 1]
            assert story_ids[-1] == meta.eos_id  # the model learns to stop
            assert tokenizer.decode(story_ids.tolist()) == record.story
            prompt = ids[bits == 0]
            assert tokenizer.decode(prompt.tolist()) == render_prompt(record)
            assert bits[0] == 0 and list(bits) == sorted(bits)  # prompt first, then story
    # the sample prompt of the training loop is the first validation record's prompt
    assert meta.instruct["sample_prompt"] == render_prompt(val_records[0])


def test_generation_prompt_is_the_training_prompt_token_for_token(instruct_data) -> None:
    _, out = instruct_data
    meta = load_meta(out)
    tokenizer = Tokenizer.load(meta.tokenizer_path)
    tokens, mask = open_tokens(meta, "train"), open_mask(meta, "train")
    begin, end = _segments(tokens, meta.bos_id)[0]
    prompt_part = tokens[begin:end][mask[begin:end] == 0].tolist()
    record = parse_record(tokenizer.decode(tokens[begin:end].tolist()))
    assert record is not None
    # what `tinylm generate --words ... --features ...` and eval feed the model
    asked = make_record(
        ",".join(record.words), ",".join(record.features), record.summary, record.sentence
    )
    assert prompt_ids(tokenizer, asked) == prompt_part
    assert encode_examples(tokenizer, [record])[0][0] == tokens[begin:end].tolist()


def test_batches_ignore_prompt_targets(instruct_data) -> None:
    _, out = instruct_data
    meta = load_meta(out)
    tokens, mask = open_tokens(meta, "train"), open_mask(meta, "train")
    plain = BatchSampler(tokens, 64, 8, seed=3)
    masked = BatchSampler(tokens, 64, 8, seed=3, mask=mask)
    for step in range(5):
        x0, y0 = plain.batch(step, 0, 1)
        x1, y1 = masked.batch(step, 0, 1)
        assert torch.equal(x0, x1)  # same windows, same inputs
        ignored = y1 == -100
        assert ignored.any() and not ignored.all()
        assert torch.equal(y1[~ignored], y0[~ignored])
    # exactly the targets whose mask is 0 are ignored: with token i == i, a row's first input
    # names its window's start
    ids = np.arange(2000, dtype=np.uint16)
    bits = np.random.default_rng(0).integers(0, 2, 2000).astype(np.uint8)
    x, y = BatchSampler(ids, 32, 16, seed=1, mask=bits).batch(7, 0, 1)
    for row_x, row_y in zip(x, y, strict=True):
        start = int(row_x[0])
        expected = torch.from_numpy(ids[start + 1 : start + 33].astype(np.int64))
        keep = torch.from_numpy(bits[start + 1 : start + 33] == 1)
        assert torch.equal(row_y[keep], expected[keep])
        assert bool((row_y[~keep] == -100).all())


def test_damaged_mask_is_one_line_error(tmp_path, instruct_data) -> None:
    import shutil

    _, out = instruct_data
    copy = tmp_path / "d"
    shutil.copytree(out, copy)
    size = (copy / "val.mask").stat().st_size
    with open(copy / "val.mask", "r+b") as f:
        f.truncate(size - 7)
    result = run_cli("train", "--instruct", "--data", str(copy), "--preset", "260k",
                     "--max-steps", "1", "--out", str(tmp_path / "run"))  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"tinylm: error: {copy / 'val.mask'} has {size - 7} bytes, meta.json says {size}; "
        "the dataset is damaged, re-run `tinylm data prepare`"
    ]
    assert not (tmp_path / "run").exists()


def test_prepare_no_instruct_keeps_plain_data_plain(tmp_path, instruct_data, en_tokenizer) -> None:
    source, _ = instruct_data
    out = tmp_path / "plain"
    result = prepare(
        [str(source)], out, tokenizer_path=en_tokenizer, instruct=False, show_progress=False
    )
    assert not result.instruct
    meta = json.loads((out / "meta.json").read_text())
    assert "instruct" not in meta and not (out / "train.mask").exists()


def test_prepare_cli_counts_records_without_story(tmp_path, hand_made, en_tokenizer) -> None:
    out = tmp_path / "data"
    result = run_cli(
        "data",
        "prepare",
        str(hand_made),
        "--tokenizer",
        str(en_tokenizer),
        "--out",
        str(out),
        "--val-fraction",
        "0.2",
        "--instruct",
    )
    assert result.returncode == 0, result.stderr
    assert "skipped 1 without a story" in result.stdout
    meta = load_meta(out)
    assert meta.splits["train"]["stories"] + meta.splits["val"]["stories"] == 5
    assert meta.instruct["skipped_without_story"] == 1


def test_synth_instruct_cli_writes_records_for_both_languages(tmp_path) -> None:
    for lang in ("en", "zh"):
        path = tmp_path / f"{lang}.txt"
        result = run_cli(
            "data", "synth", "--instruct", "--lang", lang, "--stories", "40", "--out", str(path)
        )
        assert result.returncode == 0, result.stderr
        assert "instruct records" in result.stdout
        records = list(read_instruct(path))
        assert len(records) == 40 and all(r.story for r in records)
        assert looks_instruct(path)
        # a random subset of instructions per record, as in TinyStories-Instruct
        assert sum(bool(r.words) for r in records) not in (0, 40)
        assert sum(r.summary is not None for r in records) not in (0, 40)
        for record in records:
            if record.words:
                assert all(w in record.story or lang == "en" for w in record.words)
