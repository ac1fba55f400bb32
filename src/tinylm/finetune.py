"""`tinylm finetune RUN --data DATA --out RUN2`: supervised fine-tuning of a trained model.

The base run (trained by tinylm or imported) gives the model shape and the first weights; the
training loop is the ordinary `Trainer` started from those weights, so checkpoints, metrics,
Ctrl-C and exact `--resume` behave as in `tinylm train`. On instruct data (`data prepare
--instruct`) the loss covers the stories only unless `--no-mask` is given.

Defaults differ from pre-training where fine-tuning needs it: a lower peak learning rate (1e-4,
so the model adapts without forgetting how to write) with a short warm-up, and, when no length
is given, one pass over the fine-tuning data. Everything else (batch size, precision, ...) comes
from the base run's config, and every training flag overrides it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from tinylm.config import ModelConfig, TrainConfig, resolve_configs
from tinylm.data.dataset import DataMeta, load_meta
from tinylm.errors import TinylmError
from tinylm.run import TOKENIZER_FILE, check_run, read_run_config
from tinylm.tokenizer import Tokenizer
from tinylm.trainer import Trainer, TrainResult


def check_tokenizer_matches(base_run: Path, meta: DataMeta) -> None:
    """A model only understands the token ids of its own tokenizer."""
    tokenizer = Tokenizer.load(base_run / TOKENIZER_FILE)
    if tokenizer.sha256() != meta.tokenizer_sha256:
        raise TinylmError(
            f"{meta.path} was prepared with another tokenizer than {base_run}'s; prepare it with "
            f"`tinylm data prepare FILE --tokenizer {base_run / TOKENIZER_FILE} --out DIR`"
        )


def check_instruct_data(data_dir: str | Path) -> DataMeta:
    """For `--instruct`: the data must hold instruct records (and so a loss mask)."""
    meta = load_meta(data_dir)
    if not meta.has_mask:
        raise TinylmError(
            f"{meta.path} holds plain stories, not instruct records; prepare TinyStories-Instruct "
            "records with `tinylm data prepare FILE --instruct` (e.g. from `tinylm data synth "
            "--instruct`)"
        )
    return meta


def finetune_configs(
    base_run: Path,
    meta: DataMeta,
    file_train: dict[str, Any] | None = None,
    flag_train: dict[str, Any] | None = None,
) -> tuple[ModelConfig, TrainConfig]:
    """The base run's model; training: base run's settings < fine-tuning defaults < config
    file < flags (`resolve_configs`). Without --max-steps or --time-budget: one epoch of the
    data."""
    model_cfg, train_cfg = resolve_configs(
        file_train=file_train, flag_train=flag_train, base=read_run_config(base_run)
    )
    if train_cfg.max_steps is None and train_cfg.time_budget is None:
        tokens_per_step = train_cfg.batch_size * train_cfg.grad_accum * model_cfg.max_seq_len
        train_cfg.max_steps = max(1, math.ceil(meta.splits["train"]["tokens"] / tokens_per_step))
    return model_cfg, train_cfg


def finetune(
    base_run: str | Path,
    data_dir: str | Path,
    out_dir: str | Path,
    file_train: dict[str, Any] | None = None,
    flag_train: dict[str, Any] | None = None,
    resume: bool = False,
    show_progress: bool = True,
) -> TrainResult:
    base = check_run(base_run)
    meta = load_meta(data_dir)
    check_tokenizer_matches(base, meta)
    model_cfg, train_cfg = finetune_configs(base, meta, file_train, flag_train)
    overrides = {k: v for k, v in (flag_train or {}).items() if v is not None}
    trainer = Trainer(
        data_dir,
        out_dir,
        model_cfg,
        train_cfg,
        resume=resume,
        train_overrides=overrides,
        show_progress=show_progress,
        init_from=base,
    )
    return trainer.fit()
