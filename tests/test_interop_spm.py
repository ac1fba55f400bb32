"""sentencepiece `.model` tokenizers (and llama2.c's tokenizer.bin) as tinylm tokenizers: they
must encode exactly as the sentencepiece library does, and work for data prepare, training,
generation and streaming."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import first_stories, run_cli, shared_file

import tinylm
from tinylm.config import build_configs
from tinylm.interop.tokenizer_files import load_tokenizer_file
from tinylm.synth import generate_stories
from tinylm.tokenizer import StreamDecoder, Tokenizer
from tinylm.trainer import Trainer

spm = pytest.importorskip("sentencepiece")

EDGE_CASES = [
    "",
    " ",
    "  two  spaces  and trailing ",
    " leading space",
    "line one\nline two\n\n  indented\ttab",
    "Tom counted 1234567 stars, 3.14 and 42!",
    "emoji 😀 and 🦊 fall back to bytes",
    "<s> and </s> typed in a story are text",
    "Ünïcödé ąćęłńóśźż",
]


def assert_like_sentencepiece(model_path, tokenizer: Tokenizer, texts: list[str]) -> None:
    reference = spm.SentencePieceProcessor(model_file=str(model_path))
    mismatches = [t for t in texts if reference.encode(t) != tokenizer.encode(t)]
    assert not mismatches, (len(mismatches), mismatches[0][:200])
    for text in texts:
        ids = tokenizer.encode(text)
        assert tokenizer.decode(ids) == reference.decode(ids)


def test_tok512_encodes_english_like_sentencepiece(tinystories_v1, tinystories_v2) -> None:
    model = shared_file("llama2c/tok512.model")
    tokenizer = load_tokenizer_file(model)
    assert (tokenizer.vocab_size, tokenizer.bos_id, tokenizer.eos_id) == (512, 1, 2)
    assert tokenizer.byte_ids == list(range(3, 259))
    stories = first_stories(tinystories_v1, 1500) + first_stories(tinystories_v2, 1500)
    assert_like_sentencepiece(model, tokenizer, stories + EDGE_CASES)


def test_tok5000_encodes_chinese_like_sentencepiece(chinese_csv) -> None:
    model = shared_file("llama2c/tok5000-zh.model")
    tokenizer = load_tokenizer_file(model)
    assert tokenizer.vocab_size == 5000
    simplified = [s.text for s in generate_stories("zh", 800, seed=11)]
    traditional = first_stories(chinese_csv, 800)  # many characters fall back to bytes
    assert_like_sentencepiece(model, tokenizer, simplified + traditional + EDGE_CASES)


def test_llama2c_tokenizer_bin_encodes_like_its_sentencepiece_model(tinystories_v2) -> None:
    bin_tokenizer = load_tokenizer_file(shared_file("llama2c/tok512.bin"))
    model = shared_file("llama2c/tok512.model")
    assert bin_tokenizer.vocab_size == 512
    assert_like_sentencepiece(model, bin_tokenizer, first_stories(tinystories_v2, 1500))


def test_stream_keeps_the_space_after_the_prompt() -> None:
    """sentencepiece decoders strip a leading space, so decoding the continuation on its own
    glues it to the prompt ("there" + "was"); streaming decodes it after the prompt."""
    tokenizer = load_tokenizer_file(shared_file("llama2c/tok512.model"))
    prompt = "Once upon a time there"
    prompt_ids = tokenizer.encode(prompt, bos=True)
    full = tokenizer.encode("Once upon a time there was a little dog. He said hello.", bos=True)
    assert full[: len(prompt_ids)] == prompt_ids
    streamer = StreamDecoder(tokenizer, prefix=prompt_ids)
    pieces = [streamer.push(t) for t in full[len(prompt_ids) :]]
    text = "".join(pieces) + streamer.flush()
    assert text == " was a little dog. He said hello."
    # What streaming the continuation alone gives, the bug this guards against:
    assert tokenizer.decode(full[len(prompt_ids) :]) == "was a little dog. He said hello."


def test_prepare_train_and_generate_with_a_sentencepiece_model(tmp_path) -> None:
    model = shared_file("llama2c/tok5000-zh.model")
    stories = [s.text for s in generate_stories("zh", 400, seed=5)]
    corpus = tmp_path / "zh.txt"
    corpus.write_text("\n<|endoftext|>\n".join(stories), encoding="utf-8")
    data = tmp_path / "data"
    result = run_cli("data", "prepare", str(corpus), "--tokenizer", str(model), "--out", str(data))
    assert result.returncode == 0, result.stderr
    meta = json.loads((data / "meta.json").read_text())
    assert meta["vocab_size"] == 5000 and (meta["bos_id"], meta["eos_id"]) == (1, 2)
    # The shards hold exactly sentencepiece's ids, BOS ... EOS per story.
    reference = spm.SentencePieceProcessor(model_file=str(model))
    tokens = np.fromfile(data / "train.bin", dtype=meta["dtype"])
    first_train = stories[1]  # story 0 goes to validation
    expected = [1, *reference.encode(first_train), 2]
    assert tokens[: len(expected)].tolist() == expected

    run = tmp_path / "run"
    model_cfg, train_cfg = build_configs(
        "260k",
        flag_model={"max_seq_len": 64},
        flag_train={
            "max_steps": 25,
            "batch_size": 8,
            "grad_accum": 1,
            "eval_every": 25,
            "eval_batches": 4,
            "dtype": "fp32",
            "lr": 3e-3,
            "warmup": 5,
        },
    )
    result = Trainer(data, run, model_cfg, train_cfg, show_progress=False).fit()
    assert result.val_loss < result.first_val_loss - 0.5
    lm = tinylm.load(str(run))
    assert lm.tokenizer.vocab_size == 5000 and lm.model_config.vocab_size == 5000
    assert lm.tokenizer.encode(stories[0]) == reference.encode(stories[0])
    # Chinese comes out, by the statistics of 16 samples: one sampled story of a model trained
    # 25 steps may be mostly punctuation or end early (3 to 39 Han characters by seed).
    texts = lm.generate("从前", max_new_tokens=40, temperature=0.8, seed=0, num_samples=16)
    assert all(text.startswith("从前") for text in texts)
    han = [sum("\u4e00" <= ch <= "\u9fff" for ch in text) for text in texts]
    assert sum(han) / len(han) >= 15, han  # measured 29 on average (40 tokens each)


def test_a_broken_model_file_is_refused(tmp_path) -> None:
    from test_cli import assert_one_line_error

    corpus = tmp_path / "stories.txt"
    corpus.write_text("Once upon a time there was a cat.\n", encoding="utf-8")
    fake = tmp_path / "tok.model"
    fake.write_bytes(b"\x00\x01 not a protobuf at all \xff" * 10)
    result = run_cli("data", "prepare", str(corpus), "--tokenizer", str(fake), "--out", "d")
    assert_one_line_error(result, "tok.model is not a sentencepiece model")
