"""`tinylm train` and `tinylm finetune`. Their training flags are derived from `TrainConfig`
(each setting declared once, `tinylm.settings`); the configs come from `resolve_configs`."""

from __future__ import annotations

import argparse
from typing import Any

from tinylm.config import TrainConfig
from tinylm.errors import TinylmError
from tinylm.settings import add_flags, given_flags


def add_parsers(commands: Any) -> None:
    train = commands.add_parser("train", help="train a model on a prepared data folder")
    train.add_argument("--data", required=True, help="folder made by `tinylm data prepare`")
    train.add_argument("--out", required=True, help="run folder to write")
    train.add_argument("--preset", help="model preset (see `tinylm presets`)")
    train.add_argument("--config", help="TOML file with [model] and [train] tables")
    train.add_argument("--arch", help="model family: llama, rnn or megabyte")
    _add_run_flags(train)
    train.add_argument(
        "--init-from",
        metavar="RUN",
        help="start from this run's model and weights (e.g. an imported one); the data must be "
        "prepared with its tokenizer.json",
    )
    add_flags(train, TrainConfig)
    train.set_defaults(func=cmd_train)

    tune = commands.add_parser(
        "finetune", help="fine-tune a trained or imported run on new data (e.g. instructions)"
    )
    tune.add_argument("run", help="run folder to start from (its weights and tokenizer)")
    tune.add_argument("--data", required=True, help="data prepared with the run's tokenizer")
    tune.add_argument("--out", required=True, help="new run folder to write")
    tune.add_argument("--config", help="TOML file with a [train] table")
    _add_run_flags(tune)
    # Every training setting of `train` (same names, same checks): lr 1e-4 and warm-up 20
    # unless given; the model itself comes from RUN.
    add_flags(tune, TrainConfig)
    tune.set_defaults(func=cmd_finetune)


def _add_run_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    parser.add_argument(
        "--instruct",
        action="store_true",
        help="instruction tuning: the data must be instruct records (`data prepare --instruct`)",
    )


def cmd_train(args: argparse.Namespace) -> None:
    from tinylm.config import load_toml, resolve_configs
    from tinylm.distributed import shutdown
    from tinylm.trainer import Trainer

    if args.instruct:
        from tinylm.finetune import check_instruct_data

        check_instruct_data(args.data)
    flag_train = given_flags(args, TrainConfig)
    file_model, file_train = load_toml(args.config) if args.config else ({}, {})
    flag_model = {"arch": args.arch} if args.arch else {}
    if args.init_from and args.preset:
        raise TinylmError("--init-from takes the model from that run; drop --preset")
    if args.preset is None and not args.config and not args.resume and not args.init_from:
        raise TinylmError("choose a model: --preset NAME (see `tinylm presets`) or --config FILE")
    model_cfg, train_cfg = resolve_configs(
        args.preset, file_model, file_train, flag_model, flag_train
    )
    if args.resume and (args.arch or args.preset or file_model):
        from tinylm.run import check_resume_model

        asked_by = (
            f"--arch {args.arch}"
            if args.arch
            else f"--preset {args.preset}"
            if args.preset
            else f"--config {args.config}"
        )
        check_resume_model(args.out, model_cfg, asked_by)
    trainer = Trainer(
        args.data,
        args.out,
        model_cfg,
        train_cfg,
        resume=args.resume,
        train_overrides=flag_train,
        init_from=args.init_from,
    )
    try:
        result = trainer.fit()
    finally:
        shutdown()
    report_training(result, trainer.dist.is_main)


def report_training(result: Any, is_main: bool = True) -> None:
    if is_main and result.val_loss is not None and not result.interrupted:
        print(
            f"done: step {result.step}/{result.max_steps}, validation loss {result.val_loss:.4f} "
            f"(from {result.first_val_loss:.4f}), run saved in {result.run_dir}"
        )
    if result.interrupted:
        raise SystemExit(130)


def cmd_finetune(args: argparse.Namespace) -> None:
    from tinylm.config import load_toml
    from tinylm.finetune import check_instruct_data, finetune

    if args.instruct:
        check_instruct_data(args.data)
    file_model, file_train = load_toml(args.config) if args.config else ({}, {})
    if file_model:
        raise TinylmError(
            f"{args.config}: finetune keeps the model of {args.run}; remove the model settings "
            f"({', '.join(file_model)}) and keep [train]"
        )
    result = finetune(
        args.run,
        args.data,
        args.out,
        file_train=file_train,
        flag_train=given_flags(args, TrainConfig),
        resume=args.resume,
    )
    report_training(result)
