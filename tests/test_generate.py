"""Sampling from trained models: greedy, seeded, streaming, stops at EOS by itself."""

from __future__ import annotations

import pytest
import torch
from conftest import first_stories, run_cli

import tinylm
from tinylm.config import build_configs
from tinylm.data.prepare import prepare
from tinylm.run import load_run
from tinylm.trainer import Trainer


def test_greedy_is_deterministic_and_seeds_reproduce(trained_run) -> None:
    lm = tinylm.load(str(trained_run))
    greedy = lm.generate("Once upon a time", max_new_tokens=40, temperature=0)
    assert greedy == lm.generate("Once upon a time", max_new_tokens=40, temperature=0)
    assert greedy == lm.generate("Once upon a time", max_new_tokens=40, temperature=1.0, top_k=1)
    a = lm.generate("Lily", max_new_tokens=40, temperature=1.0, seed=7)
    assert a == lm.generate("Lily", max_new_tokens=40, temperature=1.0, seed=7)
    assert a != lm.generate("Lily", max_new_tokens=40, temperature=1.0, seed=8)
    # (how long the greedy story runs before its EOS is the model's business)
    assert greedy.startswith("Once upon a time") and len(greedy) > len("Once upon a time ")


def test_num_samples_gives_distinct_samples(trained_run) -> None:
    lm = tinylm.load(str(trained_run))
    texts = lm.generate("The dog", num_samples=3, max_new_tokens=30, seed=1)
    assert len(texts) == 3 and len(set(texts)) == 3
    assert all(t.startswith("The dog") for t in texts)


def test_cli_streams_prompt_and_continuation(trained_run) -> None:
    result = run_cli(
        "generate",
        str(trained_run),
        "--prompt",
        "Tom and Sue",
        "--seed",
        "3",
        "--max-new-tokens",
        "30",
    )
    assert result.returncode == 0, result.stderr
    lm = tinylm.load(str(trained_run))
    expected = lm.generate("Tom and Sue", max_new_tokens=30, seed=3)
    assert result.stdout == expected + "\n"


def test_dtype_auto_decodes_in_the_precision_measured_faster_here(
    trained_run, tmp_path, monkeypatch
) -> None:
    """auto is a measurement, not a CPU flag: on an AMX Xeon eager bf16 decoded the 15m shape
    slower than fp32. With bf16 hardware both are timed once and the answer is remembered."""
    import json

    from tinylm import precision

    monkeypatch.setenv("TINYLM_CACHE", str(tmp_path))
    auto = load_run(trained_run, dtype="auto")
    chosen = str(auto.model.lm_head.weight.dtype).removeprefix("torch.")
    cache = tmp_path / precision.CACHE_FILE
    if precision.auto_candidates(torch.device("cpu")) == (torch.float32,):
        assert chosen == "float32" and not cache.exists()  # nothing else to try
    else:
        (entry,) = json.loads(cache.read_text()).values()
        assert entry["job"] == "decode" and set(entry["seconds"]) == {"float32", "bfloat16"}
        assert chosen == entry["dtype"] == min(entry["seconds"], key=entry["seconds"].get)

        def no_timing() -> float:
            raise AssertionError("measured again instead of remembering")

        monkeypatch.setattr(precision.time, "perf_counter", no_timing)
        again = load_run(trained_run, dtype="auto")
        assert str(again.model.lm_head.weight.dtype).removeprefix("torch.") == chosen
    assert auto.generate("Tom", max_new_tokens=20, temperature=0).startswith("Tom")


def test_fp16_on_the_cpu_is_refused_in_one_line(trained_run) -> None:
    result = run_cli("generate", str(trained_run), "--dtype", "fp16", "--prompt", "Tom")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        "tinylm: error: --dtype fp16 is GPU-only; use bf16 or fp32 on the CPU"
    ), result.stderr


def test_generation_past_the_context_window(trained_run) -> None:
    from tinylm.generate import SamplingOptions, generate_tokens

    lm = tinylm.load(str(trained_run))
    assert lm.model_config.max_seq_len == 128
    options = SamplingOptions(max_new_tokens=300, temperature=1.0, seed=0)
    # eos_id=None: keep going past every story end, across two context refills, with the
    # guard every sampler uses against byte tokens that cannot continue valid UTF-8
    tok = lm.tokenizer
    tokens = list(generate_tokens(lm.model, [tok.bos_id], options, None, 1, tok.byte_ids))
    assert len(tokens) == 300
    text = tok.decode(int(t) for t in tokens)
    # words, and valid UTF-8 throughout (the last character may still be unfinished)
    assert text.count(" ") > 100 and "\ufffd" not in text.rstrip("\ufffd")


@pytest.mark.slow
def test_compiled_decoding_writes_what_eager_decoding_writes(trained_run) -> None:
    # torch.compile on the CPU (inductor's C++ backend, weights frozen into the graph); the
    # first call compiles and autotunes its matrix products (~1 minute).
    eager = tinylm.load(str(trained_run))
    compiled = load_run(trained_run, compile=True)
    want = eager.generate("Once upon a time", max_new_tokens=160, temperature=0)
    assert compiled.generate("Once upon a time", max_new_tokens=160, temperature=0) == want
    sampled = dict(max_new_tokens=60, temperature=0.8, seed=5, num_samples=2)
    assert compiled.generate("Lily", **sampled) == eager.generate("Lily", **sampled)
    # New weights loaded in place (as training or a reload does): the frozen step must not
    # keep decoding with the old ones.
    with torch.no_grad():
        for mine, other in zip(compiled.model.parameters(), eager.model.parameters(), strict=True):
            mine.copy_(other.roll(1, dims=0))
            other.copy_(mine)
    want = eager.generate("Once upon a time", max_new_tokens=40, temperature=0)
    assert compiled.generate("Once upon a time", max_new_tokens=40, temperature=0) == want


@pytest.fixture(scope="module")
def memorised_run(tmp_path_factory, tinystories_v1):
    """A model that learned a handful of short stories by heart, EOS included."""
    root = tmp_path_factory.mktemp("memo")
    # the first two sentences of six real stories: short enough to fit the context whole
    stories = [". ".join(s.split(". ")[:2]) + "." for s in first_stories(tinystories_v1, 6)]
    corpus = root / "six.txt"
    corpus.write_text("".join(s + "\n<|endoftext|>\n" for s in stories))
    prepare([str(corpus)], root / "data", vocab_size=400, val_fraction=0.0, show_progress=False)
    model_cfg, train_cfg = build_configs(
        "260k",
        flag_model={"max_seq_len": 128},
        flag_train={
            "max_steps": 300,
            "batch_size": 8,
            "grad_accum": 1,
            "lr": 5e-3,
            "warmup": 20,
            "eval_every": 1000,
            "dtype": "fp32",
            "weight_decay": 0.0,
        },
    )
    Trainer(root / "data", root / "run", model_cfg, train_cfg, show_progress=False).fit()
    return root / "run", stories


def test_stops_at_eos_by_itself(memorised_run) -> None:
    run, stories = memorised_run
    lm = tinylm.load(str(run))
    for story in stories[:3]:
        prompt = " ".join(story.split()[:7])
        text = lm.generate(prompt, max_new_tokens=400, temperature=0)
        # it finishes the story it learned and stops there, well before the 400-token limit
        assert text == story


def test_samples_are_always_valid_utf8(tmp_path, chinese_csv) -> None:
    """Even an untrained model (uniform over 256 byte tokens and the rest) writes valid text."""
    import torch

    from tinylm.config import ModelConfig
    from tinylm.data.readers import read_stories
    from tinylm.generate import SamplingOptions, generate_tokens
    from tinylm.models import build_model
    from tinylm.tokenizer import train_tokenizer

    tok = train_tokenizer(read_stories(chinese_csv), 600, show_progress=False)
    torch.manual_seed(0)
    model = build_model(ModelConfig(dim=32, n_layers=1, n_heads=2, vocab_size=600, max_seq_len=64))
    options = SamplingOptions(max_new_tokens=200, temperature=1.0, top_p=None, seed=0)
    rows = list(generate_tokens(model, [tok.bos_id], options, None, 4, tok.byte_ids))
    ids = torch.stack(rows, dim=1)
    assert ((ids >= 3) & (ids <= 258)).float().mean() > 0.2  # plenty of byte tokens were drawn
    for row in ids.tolist():
        assert "\ufffd" not in tok.decode(row[:-3])  # (the cut at the end may split a char)
    # without the guard the same model writes broken bytes
    raw = list(generate_tokens(model, [tok.bos_id], options, None, 4, None))
    assert any("\ufffd" in tok.decode(r) for r in torch.stack(raw, dim=1).tolist())
