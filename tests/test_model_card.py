"""`tinylm export --format hf` writes a README.md model card: the hub's YAML header, the model,
its data with hashes, its training, evaluation numbers from a report, an example written at
export time and a usage snippet that works as written."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import first_stories, run_cli


def card_of(folder: Path) -> tuple[dict, str]:
    text = (folder / "README.md").read_text(encoding="utf-8")
    assert text.startswith("---\n")
    header, body = text[4:].split("\n---\n", 1)
    return yaml.safe_load(header), body


def row(body: str, name: str) -> str:
    match = re.search(rf"^\| {re.escape(name)} \| (.*) \|$", body, re.M)
    assert match, f"no row '{name}' in the card"
    return match.group(1)


def test_card_describes_the_run_and_its_snippet_runs(tmp_path, trained_run, en_data):
    out = tmp_path / "hf"
    result = run_cli("export", str(trained_run), "--format", "hf", "--out", str(out))
    assert result.returncode == 0, result.stderr
    header, body = card_of(out)
    assert header["language"] == ["en"]
    assert header["library_name"] == "transformers"
    assert header["pipeline_tag"] == "text-generation"
    assert "roneneldan/TinyStories" in header["datasets"]
    assert "tinylm" in header["tags"] and header["license"]

    config = json.loads((trained_run / "config.json").read_text())
    model = config["model"]
    assert row(body, "layers") == str(model["n_layers"])
    assert row(body, "attention heads") == str(model["n_heads"])
    assert row(body, "key/value heads") == str(model["n_kv_heads"])
    assert row(body, "hidden size") == str(model["dim"])
    assert row(body, "context length") == "128"
    assert row(body, "vocabulary").startswith("1,024 tokens")
    assert row(body, "parameters") == f"{config['parameters']:,}"

    meta = json.loads((en_data / "meta.json").read_text())
    source = meta["sources"][0]
    assert f"`{source['sha256']}`" in body and Path(source["path"]).name in body
    assert f"{meta['splits']['train']['stories']:,} stories" in row(body, "train split")

    metrics = [json.loads(x) for x in (trained_run / "metrics.jsonl").read_text().splitlines()]
    assert row(body, "steps") == "150"
    assert row(body, "tokens seen") == f"{150 * 16 * 128:,}"
    assert row(body, "batch") == "16 x 1 accumulation x 128 tokens = 2,048 tokens per step"
    last_val = [r["val_loss"] for r in metrics if "val_loss" in r][-1]
    assert row(body, "final validation loss") == f"{last_val:.4f}"
    assert row(body, "learning rate") == "0.003 peak, cosine to 0.0003"
    assert row(body, "hardware") == config["hardware"] and "torch" in config["hardware"]

    # The example is what the exported weights write with the stated settings.
    from tinylm.interop.model_card import EXAMPLE_SAMPLING
    from tinylm.run import load_run

    example = body.split("## Example output")[1].split("## Usage")[0]
    story = "\n".join(line[2:] for line in example.splitlines() if line.startswith("> "))
    options = {k: getattr(EXAMPLE_SAMPLING, k) for k in vars(EXAMPLE_SAMPLING)}
    expected = load_run(trained_run).generate("Once upon a time", **options)
    assert story.split() == expected.split() and story.startswith("Once upon a time")

    # The usage snippet, run as written (the model name pointed at the folder).
    snippet = body.split("```python\n")[1].split("```")[0]
    snippet = snippet.replace(f'model="{trained_run.name}"', f'model="{out}"')
    proc = subprocess.run(
        [sys.executable, "-c", snippet], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Once upon a time")
    assert len(proc.stdout.split()) > 8


def test_card_quotes_an_evaluation_report(tmp_path, trained_run, en_data):
    report = tmp_path / "report"
    result = run_cli(
        "eval", str(trained_run), "--report", str(report), "--data", str(en_data),
        "--prompts", "2", "--samples", "1", "--max-new-tokens", "20", "--grammar-pairs", "8",
        "--no-novelty", "--embedder", "tfidf",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    results = json.loads((report / "results.json").read_text())
    mine = next(r for r in results["runs"] if r["name"] == trained_run.name)
    out = tmp_path / "hf"
    result = run_cli(
        "export", str(trained_run), "--format", "hf", "--out", str(out), "--report", str(report)
    )
    assert result.returncode == 0, result.stderr
    _, body = card_of(out)
    evaluation = body.split("## Evaluation")[1].split("## Example output")[0]
    assert f"| likelihood: loss | {mine['likelihood']['loss']:.4g} |" in evaluation
    assert "| grammar: pairs | 8 |" in evaluation


def test_chinese_run_gets_a_chinese_example(tmp_path, chinese_csv):
    from tinylm.config import build_configs
    from tinylm.data.prepare import prepare
    from tinylm.tokenizer import train_tokenizer
    from tinylm.trainer import Trainer

    stories = first_stories(chinese_csv, 400)
    tok = train_tokenizer(iter(stories), 512, show_progress=False)
    tok.save(tmp_path / "tok.json")
    text = tmp_path / "zh.txt"
    text.write_text("\n<|endoftext|>\n".join(stories), encoding="utf-8")
    data = tmp_path / "data"
    prepare([str(text)], data, tokenizer_path=tmp_path / "tok.json", show_progress=False)
    run = tmp_path / "zh-run"
    model_cfg, train_cfg = build_configs(
        "260k",
        flag_model={"max_seq_len": 64},
        flag_train={"max_steps": 30, "batch_size": 8, "grad_accum": 1, "eval_every": 30,
                    "eval_batches": 1, "dtype": "fp32", "lr": 3e-3, "warmup": 2},
    )  # fmt: skip
    Trainer(data, run, model_cfg, train_cfg, show_progress=False).fit()
    out = tmp_path / "hf"
    result = run_cli("export", str(run), "--format", "hf", "--out", str(out))
    assert result.returncode == 0, result.stderr
    header, body = card_of(out)
    assert header["language"] == ["zh"]
    assert "Chinese" in body.split("## Model details")[0]
    example = body.split("## Example output")[1].split("## Usage")[0]
    assert "Prompt `从前`" in example
    quoted = "".join(line[2:] for line in example.splitlines() if line.startswith("> "))
    assert quoted.startswith("从前") and len(re.findall(r"[\u4e00-\u9fff]", quoted)) > 5
    assert 'generator("从前"' in body


def test_bad_report_is_one_line(tmp_path, trained_run):
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "hf"
    result = run_cli(
        "export", str(trained_run), "--format", "hf", "--out", str(out), "--report", str(empty)
    )
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "has no results.json" in result.stderr and "tinylm eval" in result.stderr
    assert not out.exists()  # nothing half-written
    result = run_cli(
        "export", str(trained_run), "--format", "gguf", "--out", str(tmp_path / "m.gguf"),
        "--report", str(empty),
    )  # fmt: skip
    assert result.returncode != 0 and "no card" in result.stderr
