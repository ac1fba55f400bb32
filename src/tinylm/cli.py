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
from tinylm.framing import FRAMINGS

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
            instruct=args.instruct,
        )
    what = "instruct records" if args.instruct else "stories"
    print(f"wrote {args.stories:,} {args.lang} {what} ({written / 1e6:.1f} MB) to {args.out}")


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
        instruct=args.instruct,
        byte_level=args.bytes,
    )
    train, val = result.splits["train"], result.splits["val"]
    print(
        f"prepared {result.out_dir}: train {train.stories:,} stories / {train.tokens:,} tokens, "
        f"val {val.stories:,} stories / {val.tokens:,} tokens, vocab {result.vocab_size} "
        f"({result.dtype})"
    )
    if result.instruct:
        skipped = f"; skipped {result.skipped:,} without a story" if result.skipped else ""
        print(f"instruct records: loss mask written (train.mask, val.mask){skipped}")


def cmd_data_download(args: argparse.Namespace) -> None:
    from tinylm.data.download import DATASETS, download

    if args.name is None:
        print(f"{'name':<22} {'hub dataset':<32} files")
        for spec in DATASETS.values():
            files = ", ".join(f"{f.filename} ({f.approx_size})" for f in spec.files)
            print(f"{spec.name:<22} {spec.repo_id:<32} {files}")
            print(f"{'':<22} {spec.description}")
        return
    if args.out is None:
        raise TinylmError("data download needs --out DIR")
    result = download(
        args.name, args.out, split=args.split, from_dir=args.from_dir, revision=args.revision
    )
    for item in result.files:
        check = "NOT verified" if item.verified == "unverified" else f"{item.verified} checksum"
        print(
            f"{item.action:<10} {item.path} ({item.size / 1e6:,.1f} MB, sha256 "
            f"{item.sha256[:12]}..., {check})"
        )
        if item.unpacked is not None:
            print(f"{'unpacked':<10} {item.unpacked}/")
    targets = [str(i.unpacked or i.path) for i in result.files]
    hint = f" {result.spec.read_hint}" if result.spec.read_hint else ""
    print(f"next: tinylm data clean {' '.join(targets)}{hint} --out clean.txt --report report.md")


CLEAN_SWITCHES = (
    "ftfy",
    "nfc",
    "whitespace",
    "quotes",
    "to_simplified",
    "drop_replacement",
    "drop_incomplete",
    "offensive",
    "exact_dedup",
    "near_dedup",
)
CLEAN_VALUES = (
    "min_chars",
    "min_words",
    "script",
    "script_min_fraction",
    "offensive_words",
    "near_threshold",
    "ngram",
    "num_perm",
    "vocab_top",
    "vocab_file",
    "vocab_max_oov",
    "workers",
    "examples",
)


def cmd_data_clean(args: argparse.Namespace) -> None:
    from tinylm.data.clean import build_clean_config, clean
    from tinylm.data.clean.report import write_report

    flags: dict[str, Any] = {}
    for name in (*CLEAN_SWITCHES, *CLEAN_VALUES):
        if getattr(args, name) is not None:
            flags[name] = getattr(args, name)
    for name in ("max_chars", "max_words"):  # 0 on the command line: no upper bound
        value = getattr(args, name)
        if value is not None:
            flags[name] = value or None
    config = build_clean_config(args.config, flags)
    result = clean(args.inputs, args.out, config, field=args.field, column=args.column)
    removed = ", ".join(f"{s.name} {s.removed:,}" for s in result.steps if s.removed)
    fixed = ", ".join(f"{s.name} {s.modified:,}" for s in result.steps if s.modified)
    print(
        f"cleaned {result.input_stories:,} stories -> {result.output_stories:,} in {result.out} "
        f"(removed: {removed or 'none'}; modified: {fixed or 'none'})"
    )
    problems = sum(s.encoding_problems for s in result.sources)
    if problems:
        print(f"{problems:,} undecodable bytes became U+FFFD (listed in the report)")
    if args.report:
        print(f"report: {write_report(result, args.report)}")


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
    "optimizer",
    "grad_clip",
    "max_steps",
    "eval_every",
    "eval_batches",
    "save_every",
    "device",
    "dtype",
    "seed",
    "parallel",
    "keep_checkpoints",
    "on_nan",
    "max_bad_steps",
)


def _flag_train(args: argparse.Namespace) -> dict[str, Any]:
    """Training settings given as flags (None where not given)."""
    from tinylm.config import parse_duration

    flag_train: dict[str, Any] = {name: getattr(args, name) for name in TRAIN_FLAGS}
    if args.compile:
        flag_train["compile"] = True
    if args.time_budget is not None:
        flag_train["time_budget"] = parse_duration(args.time_budget)
        if args.max_steps is None:
            flag_train["max_steps"] = None
    if args.no_mask:
        flag_train["loss_mask"] = False
    return flag_train


def cmd_train(args: argparse.Namespace) -> None:
    from tinylm.config import build_configs, load_toml
    from tinylm.distributed import shutdown
    from tinylm.trainer import Trainer

    if args.instruct:
        from tinylm.finetune import check_instruct_data

        check_instruct_data(args.data)
    flag_train = _flag_train(args)
    file_model, file_train = load_toml(args.config) if args.config else ({}, {})
    flag_model = {"arch": args.arch} if args.arch else {}
    if args.init_from and args.preset:
        raise TinylmError("--init-from takes the model from that run; drop --preset")
    if args.preset is None and not args.config and not args.resume and not args.init_from:
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
        args.data,
        args.out,
        model_cfg,
        train_cfg,
        resume=args.resume,
        train_overrides=overrides,
        init_from=args.init_from,
    )
    try:
        result = trainer.fit()
    finally:
        shutdown()
    _report_training(result, trainer.dist.is_main)


def _report_training(result: Any, is_main: bool = True) -> None:
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
        flag_train=_flag_train(args),
        resume=args.resume,
    )
    _report_training(result)


def cmd_generate(args: argparse.Namespace) -> None:
    from tinylm.run import load_run

    instruct = any(
        value is not None for value in (args.words, args.features, args.summary, args.sentence)
    )
    if instruct:
        from tinylm.data.instruct import make_record, render_prompt

        if args.prompt:
            raise TinylmError(
                "--prompt cannot be combined with --words/--features/--summary/--sentence: "
                "those build the prompt (in the instruct training format)"
            )
        # Checked before the model loads, so a typo in a feature name fails at once.
        args.prompt = render_prompt(
            make_record(args.words or "", args.features or "", args.summary, args.sentence)
        )
    run = load_run(
        args.run, args.device, args.dtype, compile=args.compile, batch=args.num_samples
    )
    if args.compile:
        # stderr, so a redirected story stays clean
        print(
            "compiling the decoding step: up to a minute or two the first time for a model "
            "and batch size (inductor caches it), then faster tokens",
            file=sys.stderr,
            flush=True,
        )
    options = dict(
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        seed=args.seed,
    )
    if instruct:
        _print_stories(run, args.prompt, args.num_samples, options)
        return
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


def _print_stories(run: Any, prompt: str, num_samples: int, options: dict[str, Any]) -> None:
    """Instruct mode: only the story is written, never the prompt that asked for it."""
    if num_samples == 1:
        started = False
        for pieces in run.stream(prompt, **options):
            piece = pieces[0] if started else pieces[0].lstrip()
            started = started or bool(piece)
            sys.stdout.write(piece)
            sys.stdout.flush()
        sys.stdout.write("\n")
        return
    texts = run.generate(prompt, num_samples=num_samples, **options)
    for i, text in enumerate(texts, start=1):
        print(f"--- sample {i} ---")
        print(text[len(prompt) :].strip())


def cmd_eval(args: argparse.Namespace) -> None:
    from tinylm.device import resolve_dtype
    from tinylm.evaluate import evaluate
    from tinylm.framing import DESCRIPTIONS
    from tinylm.precision import scoring_dtype
    from tinylm.run import check_run, load_run

    if args.instruct:
        cmd_eval_instruct(args)
        return
    if args.report:
        from tinylm.evalsuite.commands import eval_report

        eval_report(args)
        return
    if args.data is None:
        raise TinylmError(
            "eval needs --data (a prepared folder or a text file), or --instruct, or --report DIR"
        )
    for path in args.runs:
        check_run(path)  # a typo in the last run fails before the first is evaluated
    for n, path in enumerate(args.runs):
        run = load_run(path, device=args.device)
        if args.dtype == "auto":
            dtype = scoring_dtype(run.model, run.device, args.batch_size)
        else:
            dtype = resolve_dtype(args.dtype, run.device)
        framing = args.framing or run.framing
        result = evaluate(
            run.model, run.tokenizer, args.data, run.device, dtype, args.batch_size,
            framing=framing,
        )  # fmt: skip
        if args.json:
            print(json.dumps({"run": str(run.path), "data": args.data, **result.as_dict()}))
            continue
        bpb = result.bits_per_byte
        if n:
            print()
        print(f"run:            {run.path}")
        print(f"data:           {args.data}")
        print(f"framing:        {DESCRIPTIONS[framing]}")
        print(f"tokens:         {result.tokens:,}")
        print(f"loss:           {result.loss:.4f} nats/token")
        print(f"perplexity:     {result.perplexity:.3f}")
        print(f"bits per byte:  {bpb:.4f}" if bpb is not None else "bits per byte:  n/a")


def cmd_export(args: argparse.Namespace) -> None:
    from tinylm.interop.commands import export_run

    for line in export_run(args.run, args.format, args.out, args.dtype, args.tokenizer_out):
        print(line)


def cmd_import(args: argparse.Namespace) -> None:
    from tinylm.interop.commands import import_model

    print(import_model(args.source, args.out, args.tokenizer, args.framing))


def cmd_eval_instruct(args: argparse.Namespace) -> None:
    from tinylm.generate import SamplingOptions
    from tinylm.instruct_eval import data_prompts, evaluate_instruct, markdown_report, synth_prompts
    from tinylm.run import load_run

    args.prompts = args.prompts or 50
    options = SamplingOptions(
        max_new_tokens=args.max_new_tokens or 300,
        temperature=args.temperature,
        top_p=args.top_p,
        seed=args.seed,
    )
    options.validate()
    runs = [load_run(path, device=args.device) for path in (args.baseline, *args.runs) if path]
    meta = None
    if args.data is not None:
        records, meta = data_prompts(args.data, args.prompts)
        source = f"`{args.data}`"
    else:
        from tinylm.trainer import _looks_chinese

        lang = args.lang or ("zh" if _looks_chinese(runs[-1].tokenizer) else "en")
        records = synth_prompts(lang, args.prompts)
        source = f"the built-in generator ({lang}, held-out seed)"
    results = evaluate_instruct(runs, records, options, meta)
    compare = args.baseline is not None and len(runs) == 2
    report = markdown_report(results, records, source, options, compare=compare)
    if args.report:
        from tinylm.evalsuite.commands import write_instruct_report

        path = write_instruct_report(args.report, report)
    if args.json:
        print(json.dumps({r.name: r.metrics() for r in results}))
    else:
        print(report.split("\n## Examples")[0].rstrip())
    if args.report:
        print(f"report written to {path}", file=sys.stderr)


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


# -- serve / gui ------------------------------------------------------------------------------


def _port(text: str) -> int:
    value = _non_negative_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"must be a port number (0-65535), got {value}")
    return value


def _add_serving_flags(parser: argparse.ArgumentParser, port: int) -> None:
    from tinylm.serve.limits import Limits

    limits = Limits()
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=_port, default=port)
    parser.add_argument("--device", default="auto", help="where models generate: auto, cpu, cuda")
    parser.add_argument("--max-prompt-chars", type=_positive_int, default=limits.max_prompt_chars)
    parser.add_argument("--max-tokens", type=_positive_int, default=limits.max_new_tokens)
    parser.add_argument(
        "--max-concurrent",
        type=_positive_int,
        default=limits.max_concurrent,
        help="generations at once; more get 'busy' (HTTP 429)",
    )


def _engine(args: argparse.Namespace) -> Any:
    from tinylm.serve.engine import Engine
    from tinylm.serve.limits import Limits

    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"tinylm: warning: listening on {args.host}: anyone who can reach this machine can "
            "use it (there is no login)",
            file=sys.stderr,
        )
    limits = Limits(
        max_prompt_chars=args.max_prompt_chars,
        max_new_tokens=args.max_tokens,
        max_concurrent=args.max_concurrent,
    )
    return Engine(limits=limits, device=args.device)


def _stop_on_ctrl_c() -> None:
    """Make Ctrl-C (SIGINT) stop a server however it was started. A shell script's `tinylm gui &`
    starts it with SIGINT ignored, and Python then never raises KeyboardInterrupt: the server
    would ignore Ctrl-C and `kill -INT` for good. (Training installs its own handler.)"""
    import signal

    signal.signal(signal.SIGINT, signal.default_int_handler)


def cmd_serve(args: argparse.Namespace) -> None:
    try:
        from tinylm.serve.openai_api import serve
    except ImportError as exc:
        raise TinylmError(f"`tinylm serve` needs {exc.name}: pip install 'tinylm[serve]'") from None
    _stop_on_ctrl_c()
    serve(args.runs, args.host, args.port, _engine(args))


def cmd_gui(args: argparse.Namespace) -> None:
    try:
        from tinylm.gui.app import launch
    except ImportError as exc:
        raise TinylmError(f"`tinylm gui` needs {exc.name}: pip install 'tinylm[gui]'") from None
    _stop_on_ctrl_c()
    launch(args.runs, args.data, args.host, args.port, _engine(args))


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
    synth.add_argument(
        "--instruct",
        action="store_true",
        help="write TinyStories-Instruct records (Features/Words/Summary/Random sentence/Story)",
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
    prep.add_argument(
        "--instruct",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="TinyStories-Instruct records: tinylm's prompt format + a loss mask for the "
        "stories (default: detected from the first file)",
    )
    prep.set_defaults(func=cmd_data_prepare)

    down = data_cmds.add_parser(
        "download", help="fetch TinyStories corpora from the Hugging Face hub"
    )
    down.add_argument("name", nargs="?", help="dataset name (omit to list them)")
    down.add_argument("--out", help="folder to put the files in")
    down.add_argument("--split", choices=("train", "valid"), help="only this split")
    down.add_argument(
        "--from",
        dest="from_dir",
        metavar="FOLDER",
        help="register files you downloaded by hand into FOLDER (sha256-checked)",
    )
    down.add_argument("--revision", default="main", help="hub branch, tag or commit")
    down.set_defaults(func=cmd_data_download)

    cl = data_cmds.add_parser("clean", help="repair, filter and deduplicate stories, with a report")
    cl.add_argument("inputs", nargs="+", metavar="INPUT", help="files or folders of stories")
    cl.add_argument("--out", required=True, help="output .txt (TinyStories layout) or .jsonl")
    cl.add_argument("--report", help="write a Markdown report here (PNG plots beside it)")
    cl.add_argument("--config", help="TOML file with the settings below (flags win)")
    cl.add_argument("--field", help="JSON field holding the text (default: detected)")
    cl.add_argument("--column", help="CSV/parquet column holding the text (default: detected)")
    switch = argparse.BooleanOptionalAction
    cl.add_argument("--ftfy", action=switch, help="repair mojibake (default on)")
    cl.add_argument("--nfc", action=switch, help="Unicode NFC (default on)")
    cl.add_argument("--whitespace", action=switch, help="normalise spaces/newlines (default on)")
    cl.add_argument("--quotes", action=switch, help="straighten curly quotes (default on)")
    cl.add_argument(
        "--to-simplified", action=switch, help="Traditional -> Simplified Chinese (default off)"
    )
    cl.add_argument(
        "--drop-replacement", action=switch, help="drop stories holding U+FFFD (default on)"
    )
    cl.add_argument(
        "--drop-incomplete", action=switch, help="drop stories cut mid-sentence (default on)"
    )
    cl.add_argument("--min-chars", type=_non_negative_int)
    cl.add_argument("--max-chars", type=_non_negative_int, help="0: no limit (default 20000)")
    cl.add_argument("--min-words", type=_non_negative_int, help="default 20")
    cl.add_argument("--max-words", type=_non_negative_int, help="0: no limit (default)")
    cl.add_argument("--script", choices=("latin", "han"), help="keep only this script")
    cl.add_argument("--script-min-fraction", type=_float)
    cl.add_argument("--offensive", action=switch, help="offensive word filter (default on)")
    cl.add_argument("--offensive-words", metavar="FILE", help="replace the offensive word list")
    cl.add_argument("--exact-dedup", action=switch, help="drop exact duplicates (default on)")
    cl.add_argument("--near-dedup", action=switch, help="drop near duplicates (default on)")
    cl.add_argument("--near-threshold", type=_float, help="Jaccard similarity (default 0.8)")
    cl.add_argument("--ngram", type=_positive_int, help="words per shingle (default 5)")
    cl.add_argument("--num-perm", type=_positive_int, help="MinHash permutations (default 128)")
    cl.add_argument("--vocab-top", type=_positive_int, help="keep stories within the N top words")
    cl.add_argument("--vocab-file", help="keep stories within this word list")
    cl.add_argument("--vocab-max-oov", type=_float, help="share of words allowed outside")
    cl.add_argument("--workers", type=_positive_int, help="processes (default: every core)")
    cl.add_argument("--examples", type=_non_negative_int, help="examples per step in the report")
    cl.set_defaults(func=cmd_data_clean)

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
    train.add_argument(
        "--optimizer", help="adamw (default) or muon (Muon for hidden matrices, AdamW for the rest)"
    )
    train.add_argument("--grad-clip", type=_float)
    train.add_argument("--eval-every", type=_positive_int)
    train.add_argument("--eval-batches", type=_positive_int)
    train.add_argument("--save-every", type=_positive_int)
    train.add_argument("--device", help="auto, cpu, cuda, cuda:N")
    train.add_argument("--dtype", help="auto, fp32, bf16, fp16")
    train.add_argument("--compile", action="store_true", help="torch.compile the model")
    train.add_argument("--seed", type=int)
    train.add_argument(
        "--parallel", help="under torchrun: ddp (default) or fsdp (shards model + optimizer)"
    )
    train.add_argument(
        "--keep-checkpoints", type=_positive_int, help="how many checkpoints to keep (default 1)"
    )
    train.add_argument(
        "--on-nan",
        help="a NaN/Inf loss or gradient: skip the update (default), rollback to the last "
        "checkpoint with half the LR, or stop",
    )
    train.add_argument(
        "--max-bad-steps",
        type=_positive_int,
        help="consecutive skips or rollbacks before giving up",
    )
    train.add_argument("--resume", action="store_true", help="continue the run in --out")
    train.add_argument(
        "--init-from",
        metavar="RUN",
        help="start from this run's model and weights (e.g. an imported one); the data must be "
        "prepared with its tokenizer.json",
    )
    train.add_argument(
        "--instruct",
        action="store_true",
        help="instruction tuning: the data must be instruct records (`data prepare --instruct`)",
    )
    train.add_argument(
        "--no-mask",
        action="store_true",
        help="on instruct data, train on every token, not only the stories",
    )
    train.set_defaults(func=cmd_train)

    tune = commands.add_parser(
        "finetune", help="fine-tune a trained or imported run on new data (e.g. instructions)"
    )
    tune.add_argument("run", help="run folder to start from (its weights and tokenizer)")
    tune.add_argument("--data", required=True, help="data prepared with the run's tokenizer")
    tune.add_argument("--out", required=True, help="new run folder to write")
    tune.add_argument("--config", help="TOML file with a [train] table")
    # Every training flag of `train` (same names, same checks): lr 1e-4 and warm-up 20 unless
    # given; the model itself comes from RUN.
    for action in train._actions:
        if action.option_strings and action.dest not in (
            "help",
            "data",
            "out",
            "preset",
            "config",
            "arch",
        ):
            tune._add_action(action)
    tune.set_defaults(func=cmd_finetune)

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
    gen.add_argument(
        "--dtype",
        default="fp32",
        choices=("fp32", "bf16", "fp16", "auto"),
        help="weight type (auto: whichever decodes this model faster here, measured once and "
        "remembered; fp32 on CPUs without bf16 hardware)",
    )
    gen.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile the decoding step (a CUDA graph on GPUs): slower start, faster tokens",
    )
    gen.add_argument("--words", help="instruct: words the story must use, e.g. dog,ball,happy")
    gen.add_argument(
        "--features",
        help="instruct: Dialogue, BadEnding, MoralValue, Twist, Foreshadowing, Conflict",
    )
    gen.add_argument("--summary", help="instruct: what the story is about")
    gen.add_argument("--sentence", help="instruct: a sentence the story must contain")
    gen.set_defaults(func=cmd_generate)

    ev = commands.add_parser(
        "eval",
        help="loss/perplexity/bits per byte; with --report DIR the full suite for several runs",
    )
    ev.add_argument("runs", nargs="+", metavar="RUN", help="run folder(s), compared side by side")
    ev.add_argument("--data", help="prepared data folder (val split) or text file")
    ev.add_argument("--batch-size", type=_positive_int, default=16)
    ev.add_argument("--device", default="cpu")
    ev.add_argument("--dtype", default="fp32", help="fp32 (exact, default), bf16, auto")
    ev.add_argument(
        "--framing",
        choices=FRAMINGS,
        help="score stories as bos+eos, bos, eos or none (default: each run's own, from its "
        "config.json: tinylm runs bos+eos, llama2.c imports bos)",
    )
    ev.add_argument("--json", action="store_true", help="print one JSON line")
    ev.add_argument(
        "--instruct",
        action="store_true",
        help="instruction following: requested words, features, summary (see README)",
    )
    ev.add_argument(
        "--prompts",
        type=_positive_int,
        help="story beginnings (default 20), or instruct prompts (default 50)",
    )
    ev.add_argument("--baseline", help="instruct: a run to compare with (e.g. before fine-tuning)")
    ev.add_argument(
        "--report",
        metavar="DIR",
        help="write report.md, report.html, plots and results.json to this folder",
    )
    ev.add_argument("--lang", choices=("en", "zh"), help="instruct: built-in prompts' language")
    ev.add_argument(
        "--max-new-tokens", type=_positive_int, help="per completion (default 200; instruct 300)"
    )
    ev.add_argument(
        "--temperature",
        type=_float,
        default=0.0,
        help="instruct sampling; 0 (greedy, the default) makes runs differ only by their weights",
    )
    ev.add_argument("--top-p", type=_float, default=0.95, help="instruct sampling")
    ev.add_argument("--seed", type=int, default=0, help="prompt i uses seed + i")
    from tinylm.evalsuite.options import add_suite_flags

    add_suite_flags(ev)
    ev.set_defaults(func=cmd_eval)

    exp = commands.add_parser(
        "export", help="write a run as a Hugging Face folder, a llama2.c .bin or a GGUF file"
    )
    exp.add_argument("run", help="run folder")
    exp.add_argument("--format", required=True, choices=("hf", "llama2c", "gguf"))
    exp.add_argument("--out", required=True, help="folder (hf) or file (llama2c, gguf)")
    exp.add_argument(
        "--dtype", default="fp32", choices=("fp32", "fp16", "bf16"), help="weight type (hf, gguf)"
    )
    exp.add_argument(
        "--tokenizer-out", help="llama2c: where to write tokenizer.bin (default: beside --out)"
    )
    exp.set_defaults(func=cmd_export)

    imp = commands.add_parser(
        "import", help="make a run from a Hugging Face Llama folder or a llama2.c .bin"
    )
    imp.add_argument("source", help="Hugging Face model folder or llama2.c model .bin")
    imp.add_argument("--out", required=True, help="run folder to create")
    imp.add_argument(
        "--tokenizer",
        help="tokenizer.json, sentencepiece .model or llama2.c tokenizer.bin "
        "(needed for llama2.c; default for a Hugging Face folder: its own)",
    )
    imp.add_argument(
        "--framing",
        choices=FRAMINGS,
        help="how the model's training data framed each story: bos+eos, bos, eos or none "
        "(default: llama2.c bos, Hugging Face bos+eos or what a tinylm export recorded)",
    )
    imp.set_defaults(func=cmd_import)

    pre = commands.add_parser("presets", help="list the model presets")
    pre.set_defaults(func=cmd_presets)

    demo = commands.add_parser("demo", help="stories -> tokenizer -> model -> stories, offline")
    demo.add_argument("--out", default="runs/demo", help="workspace folder")
    demo.add_argument("--lang", choices=("en", "zh"), default="en")
    demo.add_argument("--stories", type=_positive_int, default=None)
    demo.add_argument("--time-budget", default="8m", help="training time, e.g. 5m")
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(func=cmd_demo)

    srv = commands.add_parser("serve", help="an OpenAI-compatible HTTP API for trained runs")
    srv.add_argument("runs", nargs="+", metavar="RUN", help="run folders; model id = folder name")
    _add_serving_flags(srv, port=8000)
    srv.set_defaults(func=cmd_serve)

    gui = commands.add_parser("gui", help="the web app: models, training, generation, eval")
    gui.add_argument("--runs", default="runs", help="runs folder (the only one it writes to)")
    gui.add_argument("--data", default="data", help="data folder (prepared data, uploads)")
    _add_serving_flags(gui, port=7860)
    gui.set_defaults(func=cmd_gui)
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
