"""The README.md model card of a Hugging Face export, in the shape of the hub's cards (the
TinyStoriesChinese-110M card this project grew from): a YAML header the hub reads (language,
license, library_name, tags, datasets, pipeline_tag), then overview, model details, data,
training, evaluation, an example written at export time, usage and license.

Everything in it comes from the run folder: config.json (both configs, the data's sources with
their hashes and story counts, the hardware), metrics.jsonl (steps, tokens, time, final
losses) and, when given, an evaluation report's results.json."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from tinylm.errors import TinylmError
from tinylm.generate import SamplingOptions
from tinylm.plots import read_metrics
from tinylm.progress import format_duration
from tinylm.run import METRICS_FILE, SAMPLE_PROMPTS, LoadedRun

LANGUAGE_NAMES = {"en": "English", "zh": "Chinese"}
# What the example story is sampled with, written into the card beside it.
EXAMPLE_SAMPLING = SamplingOptions(max_new_tokens=120, temperature=0.8, top_p=0.95, seed=0)
DEFAULT_LICENSE = "mit"


def _number(value: float) -> str:
    for scale, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"{value / scale:.3g}{unit}"
    return str(int(value))


def _table(rows: list[tuple[str, Any]]) -> list[str]:
    return ["| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)]


def _datasets(sources: list[dict[str, Any]]) -> list[str]:
    """Hub dataset ids the sources evidently come from (the header's `datasets`)."""
    names = " ".join(str(s.get("path", "")).lower() for s in sources)
    found = []
    if "tinystories" in names:
        found.append("roneneldan/TinyStories")
    return found


def training_summary(run_dir: Path) -> dict[str, Any]:
    """Steps, tokens, wall-clock and the final losses of a run, from its metrics.jsonl."""
    rows = read_metrics(run_dir / METRICS_FILE)
    steps = [r for r in rows if "train_loss" in r]
    vals = [r for r in rows if "val_loss" in r]
    elapsed = [r["elapsed"] for r in rows if isinstance(r.get("elapsed"), int | float)]
    tail = steps[-10:]  # the last log window's mean: one step's loss is noisy
    return {
        "steps": steps[-1]["step"] if steps else 0,
        "tokens": steps[-1].get("tokens") if steps else None,
        "elapsed": max(elapsed) if elapsed else None,
        "train_loss": sum(r["train_loss"] for r in tail) / len(tail) if tail else None,
        "val_loss": vals[-1]["val_loss"] if vals else None,
    }


def report_numbers(report_dir: Path, run_dir: Path) -> list[tuple[str, Any]]:
    """The run's numbers in an evaluation report (`tinylm eval RUN --report DIR`): every
    scalar of its likelihood, completion, grammar, novelty and judge sections."""
    path = report_dir / "results.json"
    if not path.is_file():
        raise TinylmError(
            f"--report {report_dir} has no results.json; write one with "
            f"`tinylm eval {run_dir} --report {report_dir}`"
        )
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise TinylmError(f"{path} is not a tinylm evaluation report (not JSON)") from None
    mine = [
        r
        for r in results.get("runs", [])
        if isinstance(r, dict) and Path(str(r.get("path", ""))).resolve() == run_dir.resolve()
    ]
    if not mine:
        raise TinylmError(f"the report in {report_dir} does not evaluate {run_dir}")
    numbers: list[tuple[str, Any]] = []
    for section in ("likelihood", "completion", "grammar", "novelty", "judge"):
        for key, value in (mine[0].get(section) or {}).items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            if isinstance(value, float) and not math.isfinite(value):
                continue
            numbers.append((f"{section}: {key}", f"{value:.4g}"))
    return numbers


def example_story(run: LoadedRun, lang: str) -> tuple[str, str]:
    """(prompt, the model's continuation), sampled now with EXAMPLE_SAMPLING."""
    prompt = SAMPLE_PROMPTS.get(lang, SAMPLE_PROMPTS["en"])
    options = {k: getattr(EXAMPLE_SAMPLING, k) for k in vars(EXAMPLE_SAMPLING)}
    return prompt, str(run.generate(prompt, **options))


def model_card(
    run: LoadedRun, dtype: str, report_dir: Path | None = None, license: str = DEFAULT_LICENSE
) -> str:
    config, cfg = run.config, run.model_config
    train = config.get("train") or {}
    data = config.get("data") or {}
    lang = run.tokenizer.language
    language = LANGUAGE_NAMES.get(lang, lang)
    name = run.path.resolve().name
    params = run.num_parameters()
    summary = training_summary(run.path)
    sources = [s for s in data.get("sources") or [] if isinstance(s, dict)]
    splits = data.get("splits") or {}
    datasets = _datasets(sources)
    evaluation = report_numbers(report_dir, run.path) if report_dir is not None else []
    prompt, story = example_story(run, lang)

    header = [
        "---",
        f"language:\n- {lang}",
        f"license: {license}",
        "library_name: transformers",
        "pipeline_tag: text-generation",
        "tags:\n- tinylm\n- llama\n- text-generation\n- tiny-stories",
        *(["datasets:", *(f"- {d}" for d in datasets)] if datasets else []),
        "---",
    ]
    lines = [
        *header,
        "",
        f"# {name}",
        "",
        "## Overview",
        "",
        f"A {_number(params)}-parameter Llama-architecture language model trained from scratch "
        f"with tinylm on {language} short stories"
        + (f" ({_number(splits['train']['stories'])} stories)" if "train" in splits else "")
        + ". It writes simple stories in the style of its training data.",
        "",
        "## Model details",
        "",
        *_table(
            [
                ("architecture", "LlamaForCausalLM (RMSNorm, SwiGLU, rotary embeddings)"),
                ("parameters", f"{params:,}"),
                ("layers", cfg.n_layers),
                ("attention heads", cfg.n_heads),
                ("key/value heads", cfg.n_kv_heads),
                ("hidden size", cfg.dim),
                ("MLP size", cfg.hidden_dim),
                ("context length", cfg.max_seq_len),
                ("vocabulary", f"{cfg.vocab_size:,} tokens (byte-fallback BPE)"),
                ("tied embeddings", "yes" if cfg.tie_embeddings else "no"),
                ("RoPE theta", f"{cfg.rope_theta:g}"),
                ("weights", dtype),
            ]
        ),
        "",
        "## Data",
        "",
    ]
    if sources:
        lines += ["| source | sha256 | stories |", "|---|---|---|"]
        lines += [
            f"| {Path(str(s.get('path', '?'))).name} | `{s.get('sha256', '?')}` | "
            f"{s.get('stories', '?'):,} |"
            if isinstance(s.get("stories"), int)
            else f"| {Path(str(s.get('path', '?'))).name} | `{s.get('sha256', '?')}` | ? |"
            for s in sources
        ]
        lines.append("")
    split_rows = [
        (f"{split} split", f"{v.get('stories', 0):,} stories, {v.get('tokens', 0):,} tokens")
        for split, v in splits.items()
        if isinstance(v, dict)
    ]
    tok_rows = [("tokenizer sha256", f"`{data['tokenizer_sha256']}`")] if data else []
    lines += _table(split_rows + tok_rows) if split_rows or tok_rows else ["(not recorded)"]
    lines += ["", "## Training", ""]
    if train:
        batch, accum = train.get("batch_size"), train.get("grad_accum")
        # tokens per step as trained: processes x batch x accumulation x context
        per_step = (summary["tokens"] or 0) // max(1, summary["steps"])
        world = max(1, per_step // max(1, (batch or 1) * (accum or 1) * cfg.max_seq_len))
        elapsed = summary["elapsed"]
        rows: list[tuple[str, Any]] = [
            ("hardware", config.get("hardware", "not recorded")),
            ("duration", format_duration(elapsed) if elapsed else "not recorded"),
            ("steps", f"{summary['steps']:,}"),
            ("tokens seen", f"{summary['tokens']:,}" if summary["tokens"] else "not recorded"),
            ("optimizer", f"{train.get('optimizer', 'adamw')} (betas {train.get('beta1')}, "
             f"{train.get('beta2')}; weight decay {train.get('weight_decay')})"),
            ("learning rate", f"{train.get('lr'):g} peak, cosine to {train.get('min_lr'):g}"),
            ("warm-up", f"{train.get('warmup')} steps"),
            ("gradient clipping", train.get("grad_clip")),
            ("dropout", cfg.dropout),
            ("precision", train.get("dtype")),
            ("batch", f"{batch} x {accum} accumulation x {cfg.max_seq_len} tokens"
             + (f" x {world} processes" if world > 1 else "") + f" = {per_step:,} tokens per step"),
        ]  # fmt: skip
        if summary["train_loss"] is not None:
            rows.append(("final train loss", f"{summary['train_loss']:.4f}"))
        if summary["val_loss"] is not None:
            rows.append(("final validation loss", f"{summary['val_loss']:.4f}"))
        lines += _table(rows)
    else:
        lines.append("Imported into tinylm from another format; not trained by tinylm.")
    if evaluation:
        lines += ["", "## Evaluation", "", "From `tinylm eval --report`:", "", *_table(evaluation)]
    sampling = (
        f"temperature {EXAMPLE_SAMPLING.temperature}, top-p {EXAMPLE_SAMPLING.top_p}, "
        f"{EXAMPLE_SAMPLING.max_new_tokens} new tokens at most, seed {EXAMPLE_SAMPLING.seed}"
    )
    lines += [
        "",
        "## Example output",
        "",
        f"Prompt `{prompt}`, sampled when this folder was exported ({sampling}):",
        "",
        *(f"> {line}" if line else ">" for line in story.strip().splitlines()),
        "",
        "## Usage",
        "",
        "```python",
        "from transformers import pipeline",
        "",
        f'generator = pipeline("text-generation", model="{name}")',
        f'out = generator("{prompt}", max_new_tokens=120, do_sample=True, temperature=0.8)',
        'print(out[0]["generated_text"])',
        "```",
        "",
        f'Replace `"{name}"` with the folder\'s path or its Hub id (`user/{name}`).',
        "",
        "## License",
        "",
        f"The weights are released under the {license.upper()} license; the training data keeps "
        "its own license.",
        "",
    ]
    return "\n".join(lines)
