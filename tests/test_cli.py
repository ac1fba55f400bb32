"""User mistakes end in one clear line on stderr, exit code 2, and no traceback."""

from __future__ import annotations

import pytest
from conftest import run_cli


def assert_one_line_error(result, *needles: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (
            ["train", "--data", "nowhere", "--out", "r", "--preset", "1m", "--max-steps", "5"],
            ["data folder not found: nowhere", "tinylm data prepare"],
        ),
        (
            ["train", "--data", ".", "--out", "r", "--preset", "1m", "--max-steps", "5"],
            ["not a prepared dataset"],
        ),
        (["generate", "nope"], ["run folder not found: nope"]),
        (["eval", "nope", "--data", "x"], ["run folder not found"]),
        (
            ["data", "prepare", "missing.txt", "--out", "d", "--vocab-size", "500"],
            ["input file not found: missing.txt"],
        ),
        (["data", "prepare", "missing.txt", "--out", "d"], ["--tokenizer FILE or --vocab-size"]),
        (
            ["tokenizer", "train", "missing.txt", "--vocab-size", "500", "--out", "t.json"],
            ["input file not found"],
        ),
        (["generate", "r", "--temperature", "hot"], ["'hot' is not a number"]),
        (["train", "--data", "d", "--out", "r", "--max-steps", "-3"], ["must be positive"]),
        (["train", "--data", "d"], ["--out"]),
        (["frobnicate"], ["invalid choice"]),
        (["data", "synth", "--lang", "fr", "--stories", "3", "--out", "x"], ["invalid choice"]),
    ],
)
def test_bad_command_lines(tmp_path, args, needles) -> None:
    assert_one_line_error(run_cli(*args, cwd=tmp_path), *needles)


def test_unknown_preset_and_config_typo(tmp_path, en_data) -> None:
    result = run_cli(
        "train",
        "--data",
        str(en_data),
        "--out",
        str(tmp_path / "r"),
        "--preset",
        "15M",
        "--max-steps",
        "3",
    )
    assert_one_line_error(result, "unknown preset '15M'", "did you mean '15m'")
    config = tmp_path / "c.toml"
    config.write_text("[train]\nlearning_rate = 0.1\n")
    result = run_cli(
        "train",
        "--data",
        str(en_data),
        "--out",
        str(tmp_path / "r"),
        "--config",
        str(config),
        "--max-steps",
        "3",
    )
    assert_one_line_error(result, "unknown key 'learning_rate'")
    assert not (tmp_path / "r").exists()


def test_a_folder_that_is_not_a_run(tmp_path) -> None:
    (tmp_path / "empty").mkdir()
    assert_one_line_error(
        run_cli("generate", str(tmp_path / "empty")), "is not a tinylm run", "tinylm train"
    )
    assert_one_line_error(
        run_cli("eval", str(tmp_path / "empty"), "--data", "x"), "is not a tinylm run"
    )


def test_training_needs_a_length(tmp_path, en_data) -> None:
    result = run_cli(
        "train", "--data", str(en_data), "--out", str(tmp_path / "r"), "--preset", "260k"
    )
    assert_one_line_error(result, "--max-steps N or --time-budget")


def test_version_and_presets() -> None:
    assert run_cli("--version").stdout.startswith("tinylm ")
    table = run_cli("presets").stdout
    for name in ("260k", "1m", "15m", "42m", "110m", "zh-110m"):
        assert f"\n{name} " in table
