"""lm-evaluation-harness on an exported run, with the task we ship (rolling log-likelihood on
held-out stories)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import first_stories, run_cli

from tinylm.evalsuite.harness import TASK, write_task


def test_shipped_task_loads_in_lm_eval_with_our_stories(tmp_path, tinystories_v2) -> None:
    pytest.importorskip("lm_eval")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    from lm_eval.tasks import TaskManager

    stories = first_stories(tinystories_v2, 5)
    folder = write_task(stories, tmp_path / "task")
    task = TaskManager(include_path=str(folder)).load_task_or_group([TASK])[TASK]
    assert task.OUTPUT_TYPE == "loglikelihood_rolling"
    docs = list(task.test_docs())
    assert [task.doc_to_target(d) for d in docs] == stories


@pytest.mark.slow
def test_lm_eval_on_exported_run_agrees_with_tinylm_eval(tmp_path, trained_run, tinystories_v2):
    """The documented commands, run as a user would; lm_eval's bits per byte (one story per
    document, no EOS scored) lands within 10% of `tinylm eval`'s on the same stories."""
    pytest.importorskip("lm_eval")
    stories = first_stories(tinystories_v2, 8)
    text = tmp_path / "held-out.txt"
    text.write_text("".join(s + "\n<|endoftext|>\n" for s in stories))
    exported = run_cli("export", str(trained_run), "--format", "hf", "--out", str(tmp_path / "hf"))
    assert exported.returncode == 0, exported.stderr
    write = [sys.executable, "-m", "tinylm.evalsuite.harness", "--data", str(text), "--out",
             str(tmp_path / "task")]  # fmt: skip
    made = subprocess.run(write, capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    result = subprocess.run(
        [sys.executable, "-m", "lm_eval", "--model", "hf", "--model_args",
         f"pretrained={tmp_path / 'hf'},dtype=float32", "--tasks", TASK, "--include_path",
         str(tmp_path / "task"), "--device", "cpu", "--batch_size", "4",
         "--output_path", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=900,
        env={**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    found = next(Path(tmp_path / "out").rglob("results_*.json"))
    theirs = json.loads(found.read_text())["results"][TASK]["bits_per_byte,none"]
    ours = run_cli("eval", str(trained_run), "--data", str(text), "--json")
    assert ours.returncode == 0, ours.stderr
    mine = json.loads(ours.stdout.strip().splitlines()[-1])["bits_per_byte"]
    assert abs(theirs - mine) / mine < 0.10, (theirs, mine)


def test_report_with_lm_eval_shows_the_harness_next_to_our_likelihood(
    tmp_path, trained_run, en_data
):
    """`eval --report --lm-eval`: the report's lm-evaluation-harness table has the run, and its
    bits per byte (200 held-out stories, one per document) is close to the report's own
    likelihood section (the whole validation split)."""
    pytest.importorskip("lm_eval")
    out = tmp_path / "r"
    result = run_cli("eval", str(trained_run), "--report", str(out), "--data", str(en_data),
                     "--prompts", "2", "--samples", "1", "--max-new-tokens", "16",
                     "--no-novelty", "--grammar-pairs", "0", "--lm-eval")  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    markdown = (out / "report.md").read_text(encoding="utf-8")
    section = markdown.split("## lm-evaluation-harness", 1)[1]
    row = next(r for r in section.splitlines() if r.startswith(f"| {trained_run.name} |"))
    word_ppl, byte_ppl, bits = (float(c) for c in row.strip(" |").split("|")[1:4])
    assert byte_ppl == pytest.approx(2**bits, rel=1e-3) and word_ppl > byte_ppl > 1
    ours = json.loads((out / "results.json").read_text())["runs"][0]["likelihood"]
    assert abs(bits - ours["bits_per_byte"]) / ours["bits_per_byte"] < 0.15, (bits, ours)
    assert "lm-evaluation-harness" in (out / "report.html").read_text(encoding="utf-8")
    assert (out / "hf" / trained_run.name / "model.safetensors").is_file()
