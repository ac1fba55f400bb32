"""`tinylm eval`: loss, perplexity and bits per byte on held-out text."""

from __future__ import annotations

import json
import math

import pytest
from conftest import run_cli

import tinylm
from tinylm.data.prepare import is_val, prepare
from tinylm.data.readers import read_stories
from tinylm.errors import TinylmError
from tinylm.evaluate import evaluate


def test_eval_on_data_folder_and_on_raw_text_agree(tmp_path, trained_run, tinystories_v2) -> None:
    lm = tinylm.load(str(trained_run))
    data = tmp_path / "d"
    prepare(
        [str(tinystories_v2)],
        data,
        tokenizer_path=trained_run / "tokenizer.json",
        val_fraction=0.3,
        show_progress=False,
    )
    val_stories = [s for i, s in enumerate(read_stories(tinystories_v2)) if is_val(i, 0.3)]
    text = tmp_path / "val.txt"
    text.write_text("".join(s + "\n<|endoftext|>\n" for s in val_stories))
    from_dir = evaluate(lm.model, lm.tokenizer, data, lm.device, _fp32(), show_progress=False)
    from_txt = evaluate(lm.model, lm.tokenizer, text, lm.device, _fp32(), show_progress=False)
    assert from_dir.tokens == from_txt.tokens
    assert from_dir.bytes == from_txt.bytes == sum(len(s.encode()) for s in val_stories)
    assert math.isclose(from_dir.loss, from_txt.loss, rel_tol=1e-6)
    assert math.isclose(
        from_dir.bits_per_byte, from_dir.loss * from_dir.tokens / math.log(2) / from_dir.bytes
    )
    assert math.isclose(from_dir.perplexity, math.exp(from_dir.loss))


def test_trained_model_beats_uniform_on_unseen_real_text(trained_run, tinystories_v2) -> None:
    result = run_cli("eval", str(trained_run), "--data", str(tinystories_v2), "--json")
    assert result.returncode == 0, result.stderr
    scores = json.loads(result.stdout.strip().splitlines()[-1])
    # far better than guessing among 1024 tokens (6.93): measured 4.79-4.80 on two dispatches,
    # within 0.15 of the 4.93 this used to ask; misaligned targets or framing score ~7
    assert scores["loss"] < math.log(1024) - 1.5
    assert 0.5 < scores["bits_per_byte"] < 3.0
    assert scores["tokens"] > 100_000


def test_eval_table_output(trained_run, en_data) -> None:
    result = run_cli("eval", str(trained_run), "--data", str(en_data))
    assert result.returncode == 0, result.stderr
    for label in ("loss:", "perplexity:", "bits per byte:"):
        assert label in result.stdout


def test_data_from_another_tokenizer_is_refused(tmp_path, trained_run, tinystories_v2) -> None:
    other = tmp_path / "other"
    prepare([str(tinystories_v2)], other, vocab_size=500, show_progress=False)
    lm = tinylm.load(str(trained_run))
    with pytest.raises(TinylmError, match="different tokenizer"):
        evaluate(lm.model, lm.tokenizer, other, lm.device, _fp32(), show_progress=False)


def _fp32():
    import torch

    return torch.float32
