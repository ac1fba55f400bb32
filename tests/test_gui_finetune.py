"""Fine-tuning from the GUI's Train tab in a real headless Chromium: start from an imported run
with LoRA adapters, on data prepared with its tokenizer; data of another tokenizer is refused in
one line before anything starts."""

from __future__ import annotations

import json
import shutil
import time

import pytest

from tests.conftest import first_stories
from tinylm.gui.browser import (
    browser_missing,
    choose,
    chromium_page,
    field,
    running_gui,
    wait_for_text,
)

pytestmark = pytest.mark.skipif(browser_missing() is not None, reason=str(browser_missing()))


@pytest.fixture(scope="module")
def gui(stories260k, en_data, tinystories_v1, tmp_path_factory):
    from tinylm.data.prepare import prepare

    root = tmp_path_factory.mktemp("gui-finetune")
    runs, data = root / "runs", root / "data"
    shutil.copytree(stories260k, runs / "s260")
    shutil.copytree(en_data, data / "other-tokenizer")
    text = root / "dozen.txt"
    text.write_text("\n<|endoftext|>\n".join(first_stories(tinystories_v1, 12) * 40))
    prepare([str(text)], data / "dozen", tokenizer_path=runs / "s260" / "tokenizer.json",
            show_progress=False)  # fmt: skip
    with running_gui(runs, data, root / "gui.log") as (url, _):
        yield url, runs


def fill_finetune(page, name: str, data: str) -> None:
    page.get_by_role("radio", name="prepared data folder").check()
    choose(page, "train-data", data)
    field(page, "train-name").fill(name)
    choose(page, "train-init-from", "s260")
    page.get_by_role("radio", name="max steps").check()
    field(page, "train-max-steps").fill("12")
    page.get_by_text("hyper-parameters").click()
    for key, value in {"batch-size": 8, "eval-every": 6, "lr": "5e-3", "lora-rank": 4}.items():
        field(page, f"train-{key}").fill(str(value))
    page.click("#train-start")


def test_lora_fine_tune_from_the_train_tab(gui) -> None:
    url, runs = gui
    with chromium_page() as page:
        page.goto(url)
        page.get_by_role("tab", name="Train").click()
        page.wait_for_selector("#train-start", timeout=60_000)
        time.sleep(1.0)  # the tab refreshes its lists when opened
        fill_finetune(page, "wrong", "other-tokenizer")
        refusal = wait_for_text(page, "#train-start-status", "another tokenizer")
        assert "tinylm data prepare" in refusal and not (runs / "wrong").exists()
        page.get_by_text("hyper-parameters").click()  # fill_finetune opens it again
        fill_finetune(page, "tuned", "dozen")
        wait_for_text(page, "#train-start-status", "started tuned")
        wait_for_text(page, "#train-progress", "finished", timeout=300)
    run = runs / "tuned"
    config = json.loads((run / "config.json").read_text())
    assert config["train"]["lora_rank"] == 4 and config["init_from"] == str(runs / "s260")
    assert (run / "adapter_model.safetensors").is_file()
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    vals = [r["val_loss"] for r in rows if "val_loss" in r]
    assert vals[-1] < vals[0]
