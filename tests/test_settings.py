"""Each training setting is declared once (a `TrainConfig` field with its help, unit and bounds)
and everything else is derived from it: the flags of `train` and `finetune`, the TOML keys, the
GUI's fields and the argv the GUI hands to `tinylm train`; one resolver applies one precedence."""

from __future__ import annotations

import argparse
import math
from dataclasses import fields

import pytest

from tinylm.cli import build_parser
from tinylm.config import TrainConfig, load_toml, resolve_configs
from tinylm.errors import TinylmError
from tinylm.gui.jobs import GUI_TRAIN_SETTINGS, TrainRequest, request_settings
from tinylm.settings import declared, describe, flag_name, given_flags, kind_of, to_argv


def _subparser(name: str) -> argparse.ArgumentParser:
    parser = build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return commands.choices[name]


def test_every_training_setting_is_a_declared_field() -> None:
    names = [f.name for f in fields(TrainConfig)]
    assert [f.name for f, _ in declared(TrainConfig)] == names  # none added without setting()
    for f, s in declared(TrainConfig):
        assert s.help, f.name
        assert kind_of(f) in (bool, int, float, str), f.name
        if kind_of(f) in (int, float):  # every number has a bound
            assert s.minimum is not None or s.above is not None, f.name


@pytest.mark.parametrize("verb", ["train", "finetune"])
def test_training_flags_are_derived_from_the_declarations(verb) -> None:
    parser = _subparser(verb)
    by_dest = {a.dest: a for a in parser._actions}
    setting_names = {f.name for f in fields(TrainConfig)}
    for f, s in declared(TrainConfig):
        action = by_dest[f.name]
        assert action.option_strings == [flag_name(f, s)]
        assert action.help == describe(s)  # the declaration's text, not a hand-written one
        assert action.default is None  # "not given": the preset and the file show through
    # nothing else on the command line writes a training setting
    extra = {a.dest for a in parser._actions} & setting_names
    assert extra == setting_names


def test_the_guis_fields_and_argv_come_from_the_declarations() -> None:
    from tinylm.gui.train_tab import HYPER_ROWS

    offered = {f.name for f, s in declared(TrainConfig) if s.gui}
    assert set(GUI_TRAIN_SETTINGS) == offered
    laid_out = {"max_steps", "time_budget", *(name for row in HYPER_ROWS for name in row)}
    assert laid_out == offered | {"context"}  # every offered setting has a place, no other
    request_fields = {f.name for f in fields(TrainRequest)}
    assert offered <= request_fields
    # What the GUI hands `tinylm train` parses back to the same settings.
    request = TrainRequest(
        name="x", preset="1m", source="prepared", data_id="d", batch_size="8", lr="3e-3",
        time_budget="10m", seed="7", device="cpu", warmup=0,
    )  # fmt: skip
    settings = request_settings(request)
    assert settings["time_budget"] == 600.0 and settings["lr"] == 3e-3
    argv = to_argv(TrainConfig, settings)
    args = _subparser("train").parse_args(["--data", "d", "--out", "o", *argv])
    assert given_flags(args, TrainConfig) == {k: v for k, v in settings.items() if v is not None}


def test_toml_keys_are_the_declared_settings(tmp_path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[train]\nlr = 1\ntime_budget = '2m'\nloss_mask = false\n")
    _, train = load_toml(path)
    assert train == {"lr": 1.0, "time_budget": 120.0, "loss_mask": False}
    path.write_text("[train]\nlearning_rate = 0.1\n")
    with pytest.raises(TinylmError, match="unknown key 'learning_rate'"):
        load_toml(path)


@pytest.mark.parametrize(
    ("name", "bad"),
    [("lr", -1.0), ("lr", math.nan), ("grad_clip", math.inf), ("batch_size", 0),
     ("seed", 2**64), ("warmup", -1), ("beta2", 1.5), ("optimizer", "sgd")],
)  # fmt: skip
def test_a_value_out_of_its_declared_range_is_one_line_everywhere(tmp_path, name, bad) -> None:
    """The same declaration refuses it as a flag value, in a TOML file and from the GUI."""
    with pytest.raises(TinylmError) as flagged:
        resolve_configs("260k", flag_train={name: bad})
    assert "\n" not in str(flagged.value) and name.replace("_", "-") in str(flagged.value)
    if not isinstance(bad, float) or math.isfinite(bad):  # TOML has no literal for nan in 1.0
        path = tmp_path / "c.toml"
        path.write_text(f"[train]\n{name} = {bad!r}\n".replace("'", '"'))
        with pytest.raises(TinylmError, match=f"'{name}'"):
            load_toml(path)
    if name in GUI_TRAIN_SETTINGS:
        with pytest.raises(TinylmError, match=GUI_TRAIN_SETTINGS[name].gui):
            request_settings(TrainRequest(name="x", preset="1m", source="x", **{name: str(bad)}))


def test_one_precedence_rule(tmp_path) -> None:
    base = {"model": {"dim": 64, "n_layers": 2, "n_heads": 4, "vocab_size": 300},
            "train": {"lr": 0.02, "batch_size": 3, "max_steps": 99, "seed": 5}}  # fmt: skip
    # preset < file < flags
    _, train = resolve_configs("260k", file_train={"lr": 1e-3, "seed": 1}, flag_train={"seed": 2})
    assert (train.batch_size, train.lr, train.seed) == (16, 1e-3, 2)  # 16: the preset's
    # finetune: base run (not its schedule) < fine-tuning defaults < file < flags
    model, train = resolve_configs(file_train={"warmup": 5}, flag_train={"seed": 9}, base=base)
    assert model.dim == 64 and train.batch_size == 3 and train.max_steps is None
    assert (train.lr, train.warmup, train.seed) == (1e-4, 5, 9)
    # resume: the saved run and the flags; the preset and file do not apply
    saved = {"model": base["model"], "train": {"lr": 0.02, "max_steps": 99}}
    _, train = resolve_configs("1m", file_train={"lr": 1.0}, flag_train={"seed": 3}, saved=saved)
    assert (train.lr, train.max_steps, train.seed) == (0.02, 99, 3)
    # a time budget given as a flag replaces a max_steps from below it
    _, train = resolve_configs(
        "260k", file_train={"max_steps": 50}, flag_train={"time_budget": 60.0}
    )
    assert (train.max_steps, train.time_budget) == (None, 60.0)
