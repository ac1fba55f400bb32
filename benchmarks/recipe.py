"""Which training settings learn fastest per wall-clock second: held-out loss after a fixed budget.

    python benchmarks/recipe.py                          # 260k and 1m, 4 minutes per recipe
    python benchmarks/recipe.py --presets 260k --minutes 20

Every recipe trains the same preset on the same real text (../shared/data/tinystories, a
512-token BPE) for the same `tinylm train --time-budget` with the real command, then scores the
held-out split with `tinylm eval`. What varies is what a preset's defaults decide: batch size,
gradient accumulation, learning rate and optimizer (AdamW, or Muon for the hidden matrices;
warm-up is the preset's, shortened to a fifth of the run as `--time-budget` does). On a laptop
the step count within the budget matters as much as the step size, so the table shows both.
Prints a markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
from pathlib import Path

from families import SHARED_TINYSTORIES, tinylm, train_for_time_and_score

from tinylm.plots import read_metrics
from tinylm.presets import PRESETS

# name -> `tinylm train` flags on top of the preset; "preset" is the preset's own defaults.
# The 260k preset's defaults were chosen with this table (docs/benchmarks.md); the llama2.c row
# is what they were before.
RECIPES: dict[str, list[str]] = {
    "preset": [],
    "preset + muon": ["--optimizer", "muon"],
    "preset, lr x0.5": ["--lr-scale", "0.5"],
    "preset, lr x2": ["--lr-scale", "2"],
    "preset, batch x2": ["--batch-scale", "2"],
    # 260k's defaults, tried on the presets that still have llama2.c-style large steps
    "batch 16 x 1": ["--batch-size", "16", "--grad-accum", "1"],
    "batch 16 x 1, lr x3": ["--batch-size", "16", "--grad-accum", "1", "--lr-scale", "3"],
    "llama2.c: batch 32 x 4, lr 1e-3": ["--batch-size", "32", "--grad-accum", "4", "--lr", "1e-3"],
}


def flags_for(preset: str, recipe: list[str]) -> list[str]:
    """`--lr-scale K` / `--batch-scale K` are this script's shorthands for K x the preset's
    learning rate / batch size."""
    flags = list(recipe)
    for shorthand, field, flag in (("--lr-scale", "lr", "--lr"),
                                   ("--batch-scale", "batch_size", "--batch-size")):  # fmt: skip
        if shorthand in flags:
            i = flags.index(shorthand)
            value = PRESETS[preset].train[field] * float(flags[i + 1])
            flags[i : i + 2] = [flag, f"{value:g}" if field == "lr" else str(round(value))]
    return flags


def run_recipe(work: Path, data: Path, preset: str, name: str, seconds: int) -> dict:
    out = work / f"{preset}-{name.replace(' + ', '-').replace(' ', '')}"
    flags = flags_for(preset, RECIPES[name])
    scores = train_for_time_and_score(data, out, preset, seconds, flags)
    last = [r for r in read_metrics(out / "metrics.jsonl") if "train_loss" in r][-1]
    return {
        "preset": preset,
        "recipe": name,
        "flags": " ".join(flags),
        "steps": last["step"],
        "tokens": last["tokens"],
        "lr": json.loads((out / "config.json").read_text())["train"]["lr"],
        "val_loss": scores["loss"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="260k,1m")
    # ";" between names: the names themselves hold commas
    parser.add_argument("--recipes", default=";".join(RECIPES), help="names, ';' separated")
    parser.add_argument("--minutes", type=float, default=4.0, help="training time per recipe")
    parser.add_argument("--workdir", help="keep data and runs here (default: a temp folder)")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    names = [name.strip() for name in args.recipes.split(";")]
    for name in names:
        if name not in RECIPES:
            parser.error(f"unknown recipe '{name}'; choose from: {'; '.join(RECIPES)}")
    if not SHARED_TINYSTORIES.is_file():
        raise SystemExit(f"needs {SHARED_TINYSTORIES} (run next to ../shared)")
    work = Path(args.workdir or tempfile.mkdtemp(prefix="tinylm-recipe-"))
    work.mkdir(parents=True, exist_ok=True)
    seconds = round(args.minutes * 60)
    print(f"{platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; {work}")
    data = work / "tinystories-512"
    if not (data / "meta.json").is_file():
        text = str(SHARED_TINYSTORIES)
        tinylm("data", "prepare", text, "--vocab-size", "512", "--out", str(data))
    results = []
    for preset in args.presets.split(","):
        for name in names:
            results.append(run_recipe(work, data, preset, name, seconds))
            r = results[-1]
            print(f"  {preset} {name}: {r['steps']} steps, held-out loss {r['val_loss']:.3f}")
    print(f"\n{seconds} s per recipe, load now {os.getloadavg()[0]:.1f}\n")
    print("| preset | recipe | flags | lr | steps | tokens | held-out loss |")
    print("|---|---|---|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['preset']} | {r['recipe']} | `{r['flags'] or '-'}` | {r['lr']:g} | "
            f"{r['steps']:,} | {r['tokens']:,} | {r['val_loss']:.3f} |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
