"""The `tinylm` command line. Every user mistake ends in one line on stderr and exit code 2."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from tinylm import __version__
from tinylm.errors import TinylmError

EXIT_USER_ERROR = 2


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports a bad flag in one line instead of a usage dump."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message} (see `{self.prog} --help`)", file=sys.stderr)
        raise SystemExit(EXIT_USER_ERROR)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None


# -- data -------------------------------------------------------------------------------------


def cmd_data_synth(args: argparse.Namespace) -> None:
    from tinylm import synth
    from tinylm.progress import Progress

    if args.print_vocab:
        words = synth.vocabulary(args.lang)
        print("\n".join(words))
        print(f"# {len(words)} words ({args.lang})", file=sys.stderr)
        return
    if args.out is None:
        raise TinylmError("data synth needs --out FILE (or --print-vocab)")
    if args.stories is None:
        raise TinylmError("data synth needs --stories N")
    with Progress("writing stories", total=args.stories, unit="stories") as bar:
        written = synth.write_corpus(
            args.out,
            args.lang,
            args.stories,
            seed=args.seed,
            progress=bar.advance,
        )
    print(f"wrote {args.stories:,} {args.lang} stories ({written / 1e6:.1f} MB) to {args.out}")


def cmd_data_prepare(args: argparse.Namespace) -> None:
    from tinylm.data.prepare import prepare

    result = prepare(
        args.inputs,
        args.out,
        tokenizer_path=args.tokenizer,
        vocab_size=args.vocab_size,
        val_fraction=args.val_fraction,
        field=args.field,
        column=args.column,
        byte_level=args.bytes,
    )
    train, val = result.splits["train"], result.splits["val"]
    print(
        f"prepared {result.out_dir}: train {train.stories:,} stories / {train.tokens:,} tokens, "
        f"val {val.stories:,} stories / {val.tokens:,} tokens, vocab {result.vocab_size} "
        f"({result.dtype})"
    )


def cmd_tokenizer_train(args: argparse.Namespace) -> None:
    from tinylm.data.readers import expand_inputs, read_stories
    from tinylm.tokenizer import train_tokenizer

    paths = expand_inputs(args.inputs)

    def texts() -> Any:
        for path in paths:
            yield from read_stories(path, field=args.field, column=args.column)

    tokenizer = train_tokenizer(texts(), args.vocab_size)
    tokenizer.save(args.out)
    print(f"trained a {tokenizer.vocab_size}-token byte-fallback BPE tokenizer -> {args.out}")


# -- train / generate / eval -----------------------------------------------------------------

TRAIN_FLAGS = (
    "batch_size",
    "grad_accum",
    "lr",
    "min_lr",
    "warmup",
    "weight_decay",
    "grad_clip",
    "max_steps",
    "eval_every",
    "eval_batches",
    "save_every",
    "device",
    "dtype",
    "seed",
)


def cmd_train(args: argparse.Namespace) -> None:
    from tinylm.config import build_configs, load_toml, parse_duration
    from tinylm.trainer import Trainer

    flag_train: dict[str, Any] = {name: getattr(args, name) for name in TRAIN_FLAGS}
    if args.compile:
        flag_train["compile"] = True
    if args.time_budget is not None:
        flag_train["time_budget"] = parse_duration(args.time_budget)
        if args.max_steps is None:
            flag_train["max_steps"] = None
    file_model, file_train = load_toml(args.config) if args.config else ({}, {})
    flag_model = {"arch": args.arch} if args.arch else {}
    if args.preset is None and not args.config and not args.resume:
        raise TinylmError("choose a model: --preset NAME (see `tinylm presets`) or --config FILE")
    model_cfg, train_cfg = build_configs(
        args.preset, file_model, file_train, flag_model, flag_train
    )
    if args.time_budget is not None and args.max_steps is None:
        train_cfg.max_steps = None
    if args.resume and (args.arch or args.preset):
        from tinylm.run import check_resume_arch

        asked_by = f"--arch {args.arch}" if args.arch else f"--preset {args.preset}"
        check_resume_arch(args.out, model_cfg.arch, asked_by)
    overrides = {k: v for k, v in flag_train.items() if v is not None}
    trainer = Trainer(
        args.data, args.out, model_cfg, train_cfg, resume=args.resume, train_overrides=overrides
    )
    result = trainer.fit()
    if result.val_loss is not None and not result.interrupted:
        print(
            f"done: step {result.step}/{result.max_steps}, validation loss {result.val_loss:.4f} "
            f"(from {result.first_val_loss:.4f}), run saved in {result.run_dir}"
        )
    if result.interrupted:
        raise SystemExit(130)


def cmd_generate(args: argparse.Namespace) -> None:
    from tinylm.run import load_run

    run = load_run(args.run, device=args.device)
    options = dict(
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        seed=args.seed,
    )
    if args.num_samples == 1:
        out = sys.stdout
        out.write(args.prompt)
        out.flush()
        for pieces in run.stream(args.prompt, **options):
            out.write(pieces[0])
            out.flush()
        out.write("\n")
        return
    texts = run.generate(args.prompt, num_samples=args.num_samples, **options)
    for i, text in enumerate(texts, start=1):
        print(f"--- sample {i} ---")
        print(text)


def cmd_eval(args: argparse.Namespace) -> None:
    from tinylm.device import resolve_dtype
    from tinylm.evaluate import evaluate
    from tinylm.run import load_run

    run = load_run(args.run, device=args.device)
    dtype = resolve_dtype(args.dtype, run.device)
    result = evaluate(run.model, run.tokenizer, args.data, run.device, dtype, args.batch_size)
    if args.json:
        print(json.dumps({"run": str(run.path), "data": args.data, **result.as_dict()}))
        return
    bpb = result.bits_per_byte
    print(f"run:            {run.path}")
    print(f"data:           {args.data}")
    print(f"tokens:         {result.tokens:,}")
    print(f"loss:           {result.loss:.4f} nats/token")
    print(f"perplexity:     {result.perplexity:.3f}")
    print(f"bits per byte:  {bpb:.4f}" if bpb is not None else "bits per byte:  n/a")


def cmd_presets(args: argparse.Namespace) -> None:
    from tinylm.config import PRESETS, ModelConfig
    from tinylm.models import build_model, count_parameters

    print(
        f"{'preset':<12} {'arch':<8} {'params':>8} {'dim':>5} {'layers':>6} {'heads':>5} "
        f"{'kv':>3} {'vocab':>6} {'context':>7}  description"
    )
    for name, p in PRESETS.items():
        cfg = ModelConfig(**p.model)
        import torch

        with torch.device("meta"):
            params = count_parameters(build_model(cfg))
        heads, kv = (cfg.n_heads, cfg.n_kv_heads) if cfg.n_heads else ("-", "-")
        print(
            f"{name:<12} {cfg.arch:<8} {params / 1e6:>7.2f}M {cfg.dim:>5} {cfg.n_layers:>6} "
            f"{heads:>5} {kv:>3} {cfg.vocab_size:>6} {cfg.max_seq_len:>7}  {p.description}"
        )


def cmd_demo(args: argparse.Namespace) -> None:
    from tinylm.config import parse_duration
    from tinylm.demo import run_demo

    run_demo(
        Path(args.out),
        lang=args.lang,
        stories=args.stories,
        time_budget=parse_duration(args.time_budget),
        seed=args.seed,
    )


# -- parser -----------------------------------------------------------------------------------


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="tinylm",
        description="Train, evaluate, sample and ship tiny language models.",
    )
    parser.add_argument("--version", action="version", version=f"tinylm {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)

    data = commands.add_parser("data", help="make and prepare training data")
    data_cmds = data.add_subparsers(
        dest="data_command", metavar="COMMAND", parser_class=ArgumentParser
    )
    synth = data_cmds.add_parser("synth", help="write built-in TinyStories-like stories")
    synth.add_argument("--lang", choices=("en", "zh"), default="en")
    synth.add_argument("--stories", type=_non_negative_int, help="how many stories")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--out", help="output .txt file (TinyStories format)")
    synth.add_argument(
        "--print-vocab",
        action="store_true",
        help="print the generator's restricted vocabulary and exit",
    )
    synth.set_defaults(func=cmd_data_synth)

    prep = data_cmds.add_parser("prepare", help="tokenize stories into train.bin / val.bin")
    prep.add_argument("inputs", nargs="+", metavar="INPUT", help="txt / jsonl / json / csv files")
    prep.add_argument("--out", required=True, help="output data folder")
    prep.add_argument("--tokenizer", help="an existing tokenizer.json")
    prep.add_argument("--vocab-size", type=_positive_int, help="train a tokenizer of this size")
    prep.add_argument(
        "--bytes", action="store_true", help="byte shards, no tokenizer (for --arch megabyte)"
    )
    prep.add_argument("--val-fraction", type=_float, default=0.05)
    prep.add_argument("--field", help="JSON field holding the text (default: detected)")
    prep.add_argument("--column", help="CSV column holding the text (default: detected)")
    prep.set_defaults(func=cmd_data_prepare)

    tok = commands.add_parser("tokenizer", help="train tokenizers")
    tok_cmds = tok.add_subparsers(
        dest="tokenizer_command", metavar="COMMAND", parser_class=ArgumentParser
    )
    tok_train = tok_cmds.add_parser("train", help="train a byte-fallback BPE tokenizer")
    tok_train.add_argument("inputs", nargs="+", metavar="FILE")
    tok_train.add_argument("--vocab-size", type=_positive_int, required=True)
    tok_train.add_argument("--out", required=True, help="output tokenizer.json")
    tok_train.add_argument("--field")
    tok_train.add_argument("--column")
    tok_train.set_defaults(func=cmd_tokenizer_train)

    train = commands.add_parser("train", help="train a model on a prepared data folder")
    train.add_argument("--data", required=True, help="folder made by `tinylm data prepare`")
    train.add_argument("--out", required=True, help="run folder to write")
    train.add_argument("--preset", help="model preset (see `tinylm presets`)")
    train.add_argument("--config", help="TOML file with [model] and [train] tables")
    train.add_argument("--arch", help="model family: llama, rnn or megabyte")
    train.add_argument("--max-steps", type=_positive_int)
    train.add_argument("--time-budget", help="train for this long, e.g. 90s, 10m, 2h")
    train.add_argument("--batch-size", type=_positive_int)
    train.add_argument("--grad-accum", type=_positive_int)
    train.add_argument("--lr", type=_float)
    train.add_argument("--min-lr", type=_float)
    train.add_argument("--warmup", type=_non_negative_int)
    train.add_argument("--weight-decay", type=_float)
    train.add_argument("--grad-clip", type=_float)
    train.add_argument("--eval-every", type=_positive_int)
    train.add_argument("--eval-batches", type=_positive_int)
    train.add_argument("--save-every", type=_positive_int)
    train.add_argument("--device", help="auto, cpu, cuda, cuda:N")
    train.add_argument("--dtype", help="auto, fp32, bf16, fp16")
    train.add_argument("--compile", action="store_true", help="torch.compile the model")
    train.add_argument("--seed", type=int)
    train.add_argument("--resume", action="store_true", help="continue the run in --out")
    train.set_defaults(func=cmd_train)

    gen = commands.add_parser("generate", help="write text with a trained model")
    gen.add_argument("run", help="run folder")
    gen.add_argument("--prompt", default="", help="text to continue (default: from scratch)")
    gen.add_argument("--max-new-tokens", type=_non_negative_int, default=500)
    gen.add_argument("--temperature", type=_float, default=0.8, help="0 is greedy")
    gen.add_argument("--top-k", type=_positive_int)
    gen.add_argument("--top-p", type=_float, default=0.95)
    gen.add_argument("--seed", type=int)
    gen.add_argument("--num-samples", type=_positive_int, default=1)
    gen.add_argument("--device", default="cpu")
    gen.set_defaults(func=cmd_generate)

    ev = commands.add_parser("eval", help="loss, perplexity and bits per byte on held-out text")
    ev.add_argument("run", help="run folder")
    ev.add_argument("--data", required=True, help="prepared data folder (val split) or text file")
    ev.add_argument("--batch-size", type=_positive_int, default=16)
    ev.add_argument("--device", default="cpu")
    ev.add_argument("--dtype", default="fp32", help="fp32 (exact, default), bf16, auto")
    ev.add_argument("--json", action="store_true", help="print one JSON line")
    ev.set_defaults(func=cmd_eval)

    pre = commands.add_parser("presets", help="list the model presets")
    pre.set_defaults(func=cmd_presets)

    demo = commands.add_parser("demo", help="stories -> tokenizer -> model -> stories, offline")
    demo.add_argument("--out", default="runs/demo", help="workspace folder")
    demo.add_argument("--lang", choices=("en", "zh"), default="en")
    demo.add_argument("--stories", type=_positive_int, default=None)
    demo.add_argument("--time-budget", default="8m", help="training time, e.g. 5m")
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], None] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return EXIT_USER_ERROR
    try:
        func(args)
    except TinylmError as exc:
        print(f"tinylm: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("tinylm: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
