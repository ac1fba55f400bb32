"""Screenshots of the four GUI tabs for the README (docs/images/gui-*.png).

    python docs/make_screenshots.py [--workspace build/screenshots] [--minutes 6]

Makes a small real workspace with the regular commands (built-in stories -> prepared data -> a
model trained for a few minutes), starts `tinylm gui` on it, then drives headless Chromium the
way the browser tests do (tinylm.gui.browser): starts a second training run from the Train tab
and waits for its curve, writes a story, compares two models, evaluates one. Re-running reuses
the workspace, so only the first run spends the training minutes.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from tinylm.demo import DEMO_MODEL, DEMO_TRAIN
from tinylm.gui.browser import (
    browser_missing,
    choose,
    chromium_page,
    field,
    free_port,
    start_tinylm,
    start_training,
    stop_process,
    stop_training_jobs,
    wait_for_text,
    wait_until_up,
)

ROOT = Path(__file__).resolve().parents[1]
STORIES = 20_000
DATA_NAME = f"synth-en-{STORIES}-v1024"  # the name the GUI gives these built-in stories
MODEL = "storyteller"
LIVE_STEPS = 20  # of the run started from the Train tab, before its screenshot


def tinylm(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "tinylm", *args], check=True)


def prepare_workspace(ws: Path, minutes: float) -> None:
    data = ws / "data" / DATA_NAME
    if not (data / "meta.json").is_file():
        tinylm("data", "synth", "--stories", str(STORIES), "--out", str(data / "stories.txt"))
        tinylm(
            "data", "prepare", str(data / "stories.txt"), "--vocab-size", "1024", "--out", str(data)
        )
    run = ws / "runs" / MODEL
    if not (run / "model.safetensors").is_file():
        config = ws / "storyteller.toml"
        lines = ["[model]", *(f"{k} = {v}" for k, v in DEMO_MODEL.items()), "[train]"]
        lines += [f"{k} = {v}" for k, v in DEMO_TRAIN.items()]
        config.write_text("\n".join(lines) + "\n")
        tinylm(
            "train", "--data", str(data), "--out", str(run), "--config", str(config),
            "--time-budget", f"{minutes}m",
        )  # fmt: skip


def shoot(url: str, out: Path) -> None:
    with chromium_page(width=1280, height=900) as page:
        page.goto(url)
        page.wait_for_selector("#runs-table", timeout=60_000)

        # The smallest preset, so that even a busy laptop draws a curve within a few minutes.
        name = f"260k-live-{time.strftime('%H%M%S')}"
        start_training(page, name, DATA_NAME, "260k", 400, batch_size=8, context=64, eval_every=10)
        wait_for_text(page, "#train-progress", "tok/s", timeout=600)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:  # a curve with a few validation points
            step = page.get_attribute("#train-progress .tl-progress", "data-step")
            if int(step or 0) >= LIVE_STEPS:
                break
            page.wait_for_timeout(2000)
        page.wait_for_timeout(2500)
        page.screenshot(path=out / "gui-train.png", full_page=True)
        page.click("#train-stop")  # saves its weights, so it can be compared below
        wait_for_text(page, "#train-progress", "stopped", timeout=300)

        page.get_by_role("tab", name="Models").click()
        page.wait_for_timeout(1500)
        choose(page, "models-run", MODEL)
        page.click("#models-load")
        wait_for_text(page, "#models-status", "loaded", timeout=300)
        page.screenshot(path=out / "gui-models.png", full_page=True)

        page.get_by_role("tab", name="Generate").click()
        page.click("#gen-refresh")
        page.wait_for_timeout(1500)
        field(page, "gen-prompt").fill("Once upon a time, there was a little girl named")
        field(page, "gen-seed").fill("3")
        page.click("#gen-go")
        wait_for_text(page, "#gen-status", "tokens in", timeout=300)
        choose(page, "cmp-a", MODEL)
        choose(page, "cmp-b", name)
        field(page, "cmp-prompt").fill("One day, a boy named Tom went to the park")
        page.click("#cmp-go")
        wait_for_text(page, "#cmp-status", "B:", timeout=300)
        page.screenshot(path=out / "gui-generate.png", full_page=True)

        page.get_by_role("tab", name="Evaluate").click()
        choose(page, "eval-run", MODEL)
        page.click("#eval-go")
        wait_for_text(page, "#eval-report", "perplexity", timeout=300)
        page.screenshot(path=out / "gui-evaluate.png", full_page=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", default=str(ROOT / "build" / "screenshots"))
    parser.add_argument("--out", default=str(ROOT / "docs" / "images"))
    parser.add_argument("--minutes", type=float, default=6.0, help="training time of the model")
    args = parser.parse_args()
    missing = browser_missing()
    if missing:
        raise SystemExit(f"cannot take screenshots: {missing}")
    ws, out = Path(args.workspace), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    prepare_workspace(ws, args.minutes)
    port = free_port()
    log = ws / "gui.log"
    gui = start_tinylm(
        ["gui", "--runs", str(ws / "runs"), "--data", str(ws / "data"), "--port", str(port)], log
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_until_up(url, gui, log)
        shoot(url, out)
    finally:
        stop_process(gui)
        stop_training_jobs(ws / "runs")
    for png in sorted(out.glob("gui-*.png")):
        print(f"{png} ({png.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
