"""Instruction tuning end to end, with real training: a small model pre-trained on generated
stories, fine-tuned on generated TinyStories-Instruct records, then asked for stories."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import interrupt_run, run_cli
from safetensors import safe_open

from tinylm.config import build_configs
from tinylm.data.prepare import prepare
from tinylm.finetune import finetune
from tinylm.generate import SamplingOptions
from tinylm.instruct_eval import evaluate_instruct, synth_prompts
from tinylm.run import load_run
from tinylm.synth import write_corpus
from tinylm.trainer import Trainer

# Small enough for a shared CPU, big enough to learn to copy words from the prompt.
MODEL = dict(dim=64, n_layers=4, n_heads=4, n_kv_heads=4, max_seq_len=256, multiple_of=16)
PRETRAIN = dict(batch_size=8, grad_accum=1, lr=3e-3, warmup=20, eval_batches=2, dtype="fp32")
TUNE = ["--batch-size", "8", "--eval-batches", "2", "--dtype", "fp32"]


def metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def build(
    root: Path, stories: int, pretrain_steps: int, tune_steps: int, tune_lr: float
) -> dict[str, Path]:
    """Generated stories -> tokenizer -> base model; generated instruct records -> SFT run."""
    write_corpus(root / "stories.txt", "en", stories, seed=0)
    write_corpus(root / "instruct.txt", "en", stories, seed=1, instruct=True)
    plain, instruct = root / "plain", root / "instruct"
    prepare([str(root / "stories.txt")], plain, vocab_size=1024, show_progress=False)
    prepare(
        [str(root / "instruct.txt")],
        instruct,
        tokenizer_path=plain / "tokenizer.json",
        show_progress=False,
    )
    model_cfg, train_cfg = build_configs(
        None,
        flag_model=MODEL,
        flag_train={
            **PRETRAIN,
            "max_steps": pretrain_steps,
            "eval_every": pretrain_steps,
            "save_every": pretrain_steps,
            "sample_tokens": 20,
        },
    )
    Trainer(plain, root / "base", model_cfg, train_cfg, show_progress=False).fit()
    finetune(
        root / "base",
        instruct,
        root / "sft",
        flag_train={
            "max_steps": tune_steps,
            "lr": tune_lr,
            "batch_size": 8,
            "eval_every": tune_steps,
            "eval_batches": 2,
            "dtype": "fp32",
        },
        show_progress=False,
    )
    return {"plain": plain, "instruct": instruct, "base": root / "base", "sft": root / "sft"}


@pytest.fixture(scope="module")
def tuned(tmp_path_factory) -> dict[str, Path]:
    return build(tmp_path_factory.mktemp("sft"), 2500, 200, 200, tune_lr=3e-3)


def words_used(base: Path, sft: Path, prompts: int) -> tuple[float, float]:
    records = synth_prompts("en", prompts)
    options = SamplingOptions(max_new_tokens=250, temperature=0.8, top_p=0.95, seed=0)
    results = evaluate_instruct(
        [load_run(base), load_run(sft)], records, options, show_progress=False
    )
    before, after, reference = (r.metrics() for r in results)
    assert reference["words_used"] == 1.0  # the generator's own stories use every word
    return before["words_used"], after["words_used"]


def test_finetuned_model_uses_requested_words_more_often(tuned) -> None:
    # Fine-tuned at 3e-3 for 200 steps. The gain depends on the CPU (its training trajectory)
    # and on the sampling seed: 0.10 on 60 and on 150 prompts on a Zen 5 (2026-11-23); on an
    # AMX Xeon 0.072 / 0.111 / 0.072 on 60 prompts at seeds 0 / 1 / 2 and 0.076 on 150, and
    # 0.072 / 0.094 / 0.072 and 0.080 under the AVX2/MKL dispatch (2026-12-03). 100 prompts
    # and a bar of 0.035 leave 3 standard deviations of that spread on either side: the
    # measured gains pass, and a fine-tune that teaches nothing (gain ~0) fails.
    before, after = words_used(tuned["base"], tuned["sft"], prompts=100)
    assert after >= before + 0.035, (before, after)
    sft = metrics(tuned["sft"])
    val = [r["val_loss"] for r in sft if "val_loss" in r]
    assert val[-1] < val[0] - 0.3, val  # story loss on held-out records fell
    config = json.loads((tuned["sft"] / "config.json").read_text())
    assert config["init_from"] == str(tuned["base"].resolve())
    assert config["train"]["lr"] == 3e-3 and config["train"]["loss_mask"] is True
    assert config["data"]["instruct"] is True
    sample = json.loads((tuned["sft"] / "samples.jsonl").read_text().splitlines()[-1])["text"]
    assert sample.startswith(("Features:", "Words:", "Summary:", "Random sentence:", "Story:"))


@pytest.mark.slow
def test_longer_finetuning_follows_instructions_clearly(tmp_path) -> None:
    runs = build(tmp_path, 6000, 600, 600, tune_lr=1e-3)
    before, after = words_used(runs["base"], runs["sft"], prompts=100)
    # Measured 0.127 -> 0.223 on 100 prompts (2026-11-22): three times the steps of the default
    # test buy the same gain, so at 0.27M parameters copying prompt words is what limits it.
    assert after >= before + 0.07 and after >= 1.5 * before, (before, after)


def test_generate_writes_only_the_story_asked_for(tuned) -> None:
    result = run_cli(
        "generate",
        str(tuned["sft"]),
        "--words",
        "dog,ball,happy",
        "--features",
        "Dialogue",
        "--seed",
        "1",
        "--max-new-tokens",
        "200",
    )
    assert result.returncode == 0, result.stderr
    story = result.stdout.strip()
    assert len(story) > 50
    assert "Words:" not in story and "Story:" not in story and "Features:" not in story
    lm = load_run(tuned["sft"])
    same = lm.generate_instruct(
        words="dog,ball,happy", features=["Dialogue"], seed=1, max_new_tokens=200
    )
    assert same == story  # the CLI and the Python API build the same prompt
    bad = run_cli("generate", str(tuned["sft"]), "--words", "dog", "--features", "Dialog")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "tinylm: error: unknown story feature 'Dialog' (did you mean 'Dialogue'?); choose from "
        "Dialogue, BadEnding, MoralValue, Twist, Foreshadowing, Conflict"
    ]


def test_eval_instruct_writes_a_before_after_report(tuned, tmp_path) -> None:
    report = tmp_path / "report"
    result = run_cli("eval", str(tuned["sft"]), "--instruct", "--baseline", str(tuned["base"]),
                     "--data", str(tuned["instruct"]), "--prompts", "4", "--max-new-tokens", "120",
                     "--report", str(report))  # fmt: skip
    assert result.returncode == 0, result.stderr
    text = (report / "report.md").read_text()
    assert text.startswith("# Instruction following before and after fine-tuning")
    assert "greedy decoding" in text.splitlines()[2]  # the default: runs differ by weights only
    page = (report / "report.html").read_text()
    assert "<h1>Instruction following before and after fine-tuning</h1>" in page
    assert "<td>requested words used</td>" in page
    header = next(line for line in text.splitlines() if line.startswith("| metric"))
    assert header.count("|") == 6  # metric, before, after, reference, change
    assert "| requested words used |" in text and "| story loss (nats/token) |" in text
    assert "## Examples" in text
    # stdout: progress lines, then the report's table (the examples stay in the file)
    printed = result.stdout[result.stdout.index("# Instruction following") :]
    assert printed.rstrip() == text.split("\n## Examples")[0].rstrip()


def test_finetune_refuses_data_from_another_tokenizer(tuned, tmp_path) -> None:
    other = tmp_path / "other"
    prepare([str(tuned["instruct"].parent / "instruct.txt")], other, vocab_size=600,
            show_progress=False)  # fmt: skip
    result = run_cli(
        "finetune", str(tuned["base"]), "--data", str(other), "--out", str(tmp_path / "x")
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"tinylm: error: {other} was prepared with another tokenizer than {tuned['base']}'s; "
        f"prepare it with `tinylm data prepare FILE --tokenizer "
        f"{tuned['base'] / 'tokenizer.json'} --out DIR`"
    ]
    assert not (tmp_path / "x").exists()


def test_train_instruct_needs_instruct_data_and_no_mask_switches_the_loss(tuned, tmp_path):
    common = ["--preset", "260k", "--max-steps", "2", "--eval-every", "2", *TUNE]
    refused = run_cli("train", "--instruct", "--data", str(tuned["plain"]),
                      "--out", str(tmp_path / "a"), *common)  # fmt: skip
    assert refused.returncode == 2 and "not instruct records" in refused.stderr
    masked = run_cli("train", "--instruct", "--data", str(tuned["instruct"]),
                     "--out", str(tmp_path / "m"), *common)  # fmt: skip
    assert masked.returncode == 0, masked.stderr
    assert "loss on the stories only" in masked.stdout
    everything = run_cli("train", "--instruct", "--no-mask", "--data", str(tuned["instruct"]),
                         "--out", str(tmp_path / "e"), *common)  # fmt: skip
    assert everything.returncode == 0, everything.stderr
    config = json.loads((tmp_path / "e" / "config.json").read_text())
    assert config["train"]["loss_mask"] is False
    # same seed, same initial weights: only the scored tokens differ at step 0
    first = next(r["val_loss"] for r in metrics(tmp_path / "m") if "val_loss" in r)
    second = next(r["val_loss"] for r in metrics(tmp_path / "e") if "val_loss" in r)
    assert first != second


def test_finetune_stop_and_resume_is_exact(tuned, tmp_path) -> None:
    common = ["finetune", str(tuned["base"]), "--data", str(tuned["instruct"]),
              "--max-steps", "24", "--eval-every", "8", "--save-every", "8", *TUNE]  # fmt: skip
    straight = tmp_path / "straight"
    done = run_cli(*common, "--out", str(straight))
    assert done.returncode == 0, done.stderr
    stopped = tmp_path / "stopped"
    interrupt_run([*common, "--out", str(stopped)], stopped, after_step=5)
    resumed = run_cli(*common, "--out", str(stopped), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stdout

    def curve(run: Path) -> list[dict]:
        return [
            {k: v for k, v in r.items() if k not in ("elapsed", "tokens_per_s")}
            for r in metrics(run)
            if "train_loss" in r or "val_loss" in r
        ]

    assert curve(stopped) == curve(straight)
    assert len([r for r in curve(straight) if "train_loss" in r]) == 24
    a = safe_open(str(straight / "model.safetensors"), "pt")
    b = safe_open(str(stopped / "model.safetensors"), "pt")
    for name in a.keys():  # noqa: SIM118
        assert torch.equal(a.get_tensor(name), b.get_tensor(name)), name
    config = json.loads((stopped / "config.json").read_text())
    assert config["init_from"] == str(tuned["base"].resolve())
