"""lm-evaluation-harness on a tinylm run: export it as a Hugging Face folder, write the shipped
`tinylm_stories` task (rolling log-likelihood over held-out stories) beside a stories.jsonl, and
run `lm_eval`'s hf backend on it. The same task works from the shell:

    tinylm export RUN --format hf --out hf/
    python -m tinylm.evalsuite.harness --data val.txt --out task/
    lm_eval --model hf --model_args pretrained=hf/ --tasks tinylm_stories --include_path task/
"""

from __future__ import annotations

import argparse
import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

from tinylm.errors import TinylmError
from tinylm.fileio import atomic_open, atomic_write_text

TASK = "tinylm_stories"
TEMPLATE = "tinylm_stories.yaml"


def require_lm_eval() -> None:
    try:
        import lm_eval  # noqa: F401
    except ImportError:
        raise TinylmError(
            "--lm-eval needs lm-evaluation-harness: pip install 'tinylm[harness]'"
        ) from None


def write_task(stories: list[str], folder: Path) -> Path:
    """folder/stories.jsonl and folder/tinylm_stories.yaml pointing at it; returns folder."""
    if not stories:
        raise TinylmError("no held-out stories for the lm-eval task")
    data = folder.resolve() / "stories.jsonl"
    with atomic_open(data) as f:
        for story in stories:
            f.write(json.dumps({"text": story}, ensure_ascii=False) + "\n")
    template = resources.files("tinylm.evalsuite").joinpath(TEMPLATE).read_text(encoding="utf-8")
    atomic_write_text(folder / TEMPLATE, template.replace("@STORIES_JSONL@", str(data)))
    return folder


def run_lm_eval(
    hf_dir: Path, task_dir: Path, device: str = "cpu", batch_size: int = 8
) -> dict[str, float]:
    """lm_eval's metrics for the task (word_perplexity, byte_perplexity, bits_per_byte)."""
    require_lm_eval()
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")  # the data is a local file
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import lm_eval
    from lm_eval.tasks import TaskManager

    results = lm_eval.simple_evaluate(
        model="hf",
        model_args=f"pretrained={hf_dir},dtype=float32",
        tasks=[TASK],
        device=device,
        batch_size=batch_size,
        task_manager=TaskManager(include_path=str(task_dir)),
    )
    raw: dict[str, Any] = results["results"][TASK]
    return {
        k.split(",")[0]: float(v)
        for k, v in raw.items()
        if "," in k and "stderr" not in k and isinstance(v, int | float)
    }


def harness_section(runs: list[Any], data: str, out: Path, limit: int) -> list[tuple[Any, ...]]:
    """Report blocks: lm-eval's numbers for each run on the first `limit` held-out stories."""
    from tinylm.evalsuite.stories import held_out_stories
    from tinylm.interop.hf import export_hf

    stories = held_out_stories(data, limit)
    task_dir = write_task(stories, out / "lm-eval-task")
    rows = []
    for run in runs:
        hf_dir = out / "hf" / run.path.name
        export_hf(run.model, run.tokenizer, hf_dir, "fp32")
        metrics = run_lm_eval(hf_dir, task_dir)
        rows.append(
            [
                run.path.name,
                f"{metrics.get('word_perplexity', float('nan')):.3f}",
                f"{metrics.get('byte_perplexity', float('nan')):.4f}",
                f"{metrics.get('bits_per_byte', float('nan')):.4f}",
            ]
        )
    return [
        ("h", 2, "lm-evaluation-harness"),
        (
            "p",
            f"`lm_eval --model hf` on each run exported with `tinylm export --format hf`, task "
            f"`{TASK}` (rolling log-likelihood, one story per document) over {len(stories)} "
            "held-out stories; the task folder is `lm-eval-task/`.",
        ),
        ("table", ["run", "word perplexity", "byte perplexity", "bits per byte"], rows),
    ]


def main(argv: list[str] | None = None) -> None:
    from tinylm.evalsuite.stories import held_out_stories

    parser = argparse.ArgumentParser(description="write the tinylm_stories lm-eval task")
    parser.add_argument("--data", required=True, help="prepared folder (val split) or story file")
    parser.add_argument("--out", required=True, help="task folder for lm_eval --include_path")
    parser.add_argument("--stories", type=int, default=1000, help="how many stories (1000)")
    args = parser.parse_args(argv)
    folder = write_task(held_out_stories(args.data, args.stories), Path(args.out))
    print(
        f"wrote {folder / TEMPLATE}; run: lm_eval --model hf --model_args pretrained=HF_DIR "
        f"--tasks {TASK} --include_path {folder}"
    )


if __name__ == "__main__":
    main()
