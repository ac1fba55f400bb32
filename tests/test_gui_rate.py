"""The Rate tab in a real headless Chromium: two raters in two browsers at once rate 20 blind
pairs from two runs; every choice lands in ratings.jsonl whole, the names stay hidden on the
page, and the results panel shows the standings those ratings give."""

from __future__ import annotations

import json
import shutil
import time

import pytest

from tinylm.gui.browser import (
    browser_missing,
    chromium_pages,
    field,
    running_gui,
    wait_for_text,
)
from tinylm.ratings import read_ratings, standings, standings_markdown

pytestmark = pytest.mark.skipif(browser_missing() is not None, reason=str(browser_missing()))

PAIRS_EACH = 10


@pytest.fixture(scope="module")
def gui(trained_run, stories260k, tmp_path_factory):
    root = tmp_path_factory.mktemp("gui-rate")
    runs, data = root / "runs", root / "data"
    shutil.copytree(trained_run, runs / "tiny")
    shutil.copytree(stories260k, runs / "s260")
    data.mkdir()
    with running_gui(runs, data, root / "gui.log") as (url, _):
        yield url, runs


def open_rate_tab(page, url: str, rater: str) -> None:
    page.goto(url)
    page.get_by_role("tab", name="Rate", exact=True).click()
    page.wait_for_selector("#rate-start", timeout=60_000)
    time.sleep(1.0)  # opening the tab refreshes its lists; a pick made meanwhile is redrawn away
    box = page.locator("#rate-runs input").first
    for run in ("s260", "tiny"):  # a multiselect: type a name, Enter picks the match
        box.click()
        box.fill(run)
        box.press("Enter")
    page.keyboard.press("Escape")
    chips = page.inner_text("#rate-runs")
    assert "s260" in chips and "tiny" in chips, chips
    field(page, "rate-rater").fill(rater)
    page.click("#rate-start")


def shown_count(page) -> int:
    text = page.inner_text("#rate-status")
    return int(text.split("(")[1].split(" ")[0]) if "rated this session" in text else 0


def test_two_raters_at_once_fill_the_table(gui) -> None:
    url, runs = gui
    path = runs / "ratings.jsonl"
    choices = {
        "ann": "#rate-choose-a",
        "bob": "#rate-choose-tie",
    }  # Ann always picks A, Bob always a tie
    with chromium_pages(2) as (ann, bob):
        pages = {"ann": ann, "bob": bob}
        for name, page in pages.items():
            open_rate_tab(page, url, name)
        for page in pages.values():
            wait_for_text(page, "#rate-status", "which story is better?", timeout=120)
        for round_ in range(PAIRS_EACH):
            # both click before either waits: their saves run on the server at once
            for name, page in pages.items():
                stories = page.inner_text("#rate-a") + page.inner_text("#rate-b")
                assert "tiny" not in page.inner_text("#rate-prompt") and "s260" not in stories
                page.click(f"{choices[name]}")
            for page in pages.values():
                wait_for_text(page, "#rate-status", f"({round_ + 1} rated this session)",
                              timeout=120)  # fmt: skip
        ann.click("#rate-results-button")
        deadline = time.monotonic() + 60
        while "ratings by" not in ann.inner_text("#rate-results") and time.monotonic() < deadline:
            time.sleep(0.2)
        panel = ann.inner_text("#rate-results")

    rated = read_ratings(path)
    assert rated.skipped == 0 and len(rated.ratings) == 2 * PAIRS_EACH
    lines = path.read_text(encoding="utf-8").splitlines()
    assert all(json.loads(line) for line in lines)
    by = {name: [r for r in rated.ratings if r["rater"] == name] for name in choices}
    assert all(r["choice"] == "a" for r in by["ann"]) and len(by["ann"]) == PAIRS_EACH
    assert all(r["choice"] == "tie" for r in by["bob"]) and len(by["bob"]) == PAIRS_EACH
    for r in rated.ratings:
        assert {r["run_a"], r["run_b"]} == {"tiny", "s260"}
        assert r["story_a"].startswith(r["prompt"]) and r["story_b"].startswith(r["prompt"])
    # the order is random: both runs were shown on the left at some point
    assert {r["run_a"] for r in rated.ratings} == {"tiny", "s260"}

    expected = standings(rated.ratings)
    assert f"{2 * PAIRS_EACH} ratings by 2 rater(s) (ann, bob): {PAIRS_EACH} ties" in panel
    for row in expected.rows:  # the panel shows the numbers the file gives
        assert row.run in panel and f"{row.elo:.0f}" in panel
        assert f"{row.win_rate:.0%}" in panel
    assert standings_markdown(expected).splitlines()[0] in panel
