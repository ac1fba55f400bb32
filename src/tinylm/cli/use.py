"""`tinylm generate`, `eval`, `export`, `push`, `import`, `presets` and `demo`: using a trained
run."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tinylm.errors import TinylmError
from tinylm.framing import FRAMINGS
from tinylm.interop.formats import EXPORT_DTYPES, EXPORT_FORMATS
from tinylm.settings import check_text, non_negative_int, number, positive_int, seed


def add_parsers(commands: Any) -> None:
    gen = commands.add_parser("generate", help="write text with a trained model")
    gen.add_argument("run", help="run folder")
    gen.add_argument("--prompt", default="", help="text to continue (default: from scratch)")
    gen.add_argument("--max-new-tokens", type=non_negative_int, default=500)
    gen.add_argument("--temperature", type=number, default=0.8, help="0 is greedy")
    gen.add_argument("--top-k", type=positive_int)
    gen.add_argument("--top-p", type=number, default=0.95)
    gen.add_argument("--seed", type=seed)
    gen.add_argument("--num-samples", type=positive_int, default=1)
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
    gen.add_argument(
        "--quant",
        help="int8 or int4: quantize the run in memory first (what `tinylm quantize` writes), "
        "for faster CPU decoding",
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
    ev.add_argument("runs", nargs="*", metavar="RUN", help="run folder(s), compared side by side")
    ev.add_argument(
        "--ratings",
        metavar="FILE",
        help="human ratings (the GUI's Rate tab writes ratings.jsonl): Bradley-Terry / Elo "
        "with 95 %% intervals and win rates per run; with --judge-url and --judge-model, how "
        "often the judge agrees",
    )
    ev.add_argument("--data", help="prepared data folder (val split) or text file")
    ev.add_argument("--batch-size", type=positive_int, default=16)
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
        type=positive_int,
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
        "--max-new-tokens", type=positive_int, help="per completion (default 200; instruct 300)"
    )
    ev.add_argument(
        "--temperature",
        type=number,
        default=0.0,
        help="instruct sampling; 0 (greedy, the default) makes runs differ only by their weights",
    )
    ev.add_argument("--top-p", type=number, default=0.95, help="instruct sampling")
    ev.add_argument("--seed", type=seed, default=0, help="prompt i uses seed + i")
    from tinylm.evalsuite.options import add_suite_flags  # torch-free: --help stays fast

    add_suite_flags(ev)
    ev.set_defaults(func=cmd_eval)

    exp = commands.add_parser(
        "export", help="write a run as a Hugging Face folder, a llama2.c .bin or a GGUF file"
    )
    exp.add_argument("run", help="run folder")
    exp.add_argument("--format", required=True, choices=list(EXPORT_FORMATS))
    exp.add_argument("--out", required=True, help="folder (hf) or file (llama2c, gguf)")
    exp.add_argument(
        "--dtype",
        default="fp32",
        choices=EXPORT_DTYPES,
        help="weight type: "
        + "; ".join(f"{f.name} {', '.join(f.dtypes)}" for f in EXPORT_FORMATS.values()),
    )
    exp.add_argument(
        "--tokenizer-out", help="llama2c: where to write tokenizer.bin (default: beside --out)"
    )
    exp.add_argument(
        "--version",
        type=int,
        choices=(0, 2),
        help="llama2c: 0 fp32 for run.c (default), 2 int8 for runq.c (the same as --dtype q8_0)",
    )
    exp.add_argument(
        "--group-size",
        type=positive_int,
        help="llama2c version 2: weights per int8 scale (default: 64, halved until it divides "
        "dim and hidden_dim, as llama2.c's export.py does)",
    )
    exp.add_argument(
        "--adapter-only",
        action="store_true",
        help="hf, LoRA runs: the adapters alone, as a PEFT adapter folder (default: merged)",
    )
    exp.add_argument(
        "--report",
        help="hf: an evaluation report folder (`tinylm eval RUN --report DIR`) whose numbers "
        "go into the model card (README.md)",
    )
    exp.set_defaults(func=cmd_export)

    push = commands.add_parser(
        "push", help="upload a run to the Hugging Face hub, exported as a Hugging Face folder"
    )
    push.add_argument("run", help="run folder")
    push.add_argument(
        "--repo",
        required=True,
        help="hub repo id, user/name or org/name: created if new, a new commit if not",
    )
    push.add_argument(
        "--private",
        action="store_true",
        help="create the repo private (an existing public repo is refused: the hub keeps its "
        "visibility)",
    )
    push.add_argument(
        "--revision", default="main", help="branch to commit to, created if missing (main)"
    )
    push.add_argument("--message", help="commit summary (default: Upload RUN (DTYPE) ...)")
    push.add_argument(
        "--dtype",
        default="fp32",
        choices=EXPORT_FORMATS["hf"].dtypes,
        help="weight type of the uploaded model.safetensors",
    )
    push.set_defaults(func=cmd_push)

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

    qua = commands.add_parser(
        "quantize", help="an int8 or int4 copy of a run: smaller, and faster to decode on a CPU"
    )
    qua.add_argument("run", help="run folder (a float one)")
    qua.add_argument("--out", required=True, help="run folder to create")
    qua.add_argument("--scheme", required=True, help="int8 (Q8_0) or int4 (Q4_0)")
    qua.add_argument(
        "--group-size",
        type=group_size,
        help="weights per scale along a row, or 'channel' for one per row (default: int8 64, "
        "halved until it divides the model's widths, as llama2.c does; int4 32)",
    )
    qua.add_argument(
        "--keep-embeddings", action="store_true", help="keep the token embeddings in fp32"
    )
    qua.add_argument("--keep-output", action="store_true", help="keep the output layer in fp32")
    qua.set_defaults(func=cmd_quantize)

    pre = commands.add_parser("presets", help="list the model presets")
    pre.set_defaults(func=cmd_presets)

    demo = commands.add_parser("demo", help="stories -> tokenizer -> model -> stories, offline")
    demo.add_argument("--out", default="runs/demo", help="workspace folder")
    demo.add_argument("--lang", choices=("en", "zh"), default="en")
    demo.add_argument("--stories", type=positive_int, default=None)
    demo.add_argument("--time-budget", default="8m", help="training time, e.g. 5m")
    demo.add_argument("--seed", type=seed, default=0)
    demo.set_defaults(func=cmd_demo)


def group_size(text: str) -> int:
    """--group-size: a positive number, or 'channel' (0: one scale per row)."""
    if text.strip().lower() in ("channel", "0"):
        return 0
    return positive_int(text)


def cmd_quantize(args: argparse.Namespace) -> None:
    from tinylm.quant.command import quantize_run
    from tinylm.quant.scheme import check_scheme

    check_scheme(args.scheme)
    quantize_run(
        args.run, args.out, args.scheme, args.group_size, args.keep_embeddings, args.keep_output
    )


def cmd_generate(args: argparse.Namespace) -> None:
    from tinylm.generate import SamplingOptions, check_num_samples
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
    check_text(args.prompt, "--prompt")
    options = dict(
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        seed=args.seed,
    )
    SamplingOptions(**options).validate()  # before anything is printed or loaded
    check_num_samples(args.num_samples)
    if args.quant is not None:
        from tinylm.quant.scheme import check_scheme

        check_scheme(args.quant, "--quant")
    run = load_run(
        args.run, args.device, args.dtype, args.compile, args.num_samples, quant=args.quant
    )
    if args.compile:
        # stderr, so a redirected story stays clean
        print(
            "compiling the decoding step: up to a minute or two the first time for a model "
            "and batch size (inductor caches it), then faster tokens",
            file=sys.stderr,
            flush=True,
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
    from tinylm.run import check_run, load_run, read_run_config

    if args.ratings:
        cmd_eval_ratings(args)
        return
    if not args.runs:
        raise TinylmError("eval needs a RUN folder (or --ratings FILE)")
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
    scores: dict[Path, float] = {}
    for n, path in enumerate(args.runs):
        quantized = "quantization" in read_run_config(path)
        # a quantized run's kernels compute in fp32 (load_run refuses another --dtype)
        run = load_run(path, device=args.device, dtype=args.dtype if quantized else "fp32")
        if quantized:
            dtype = resolve_dtype("fp32", run.device)
        elif args.dtype == "auto":
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
        if bpb is not None:
            scores[run.path.resolve()] = bpb
            _print_quantization_cost(run, scores)


def _print_quantization_cost(run: Any, scores: dict[Path, float]) -> None:
    """A quantized run evaluated beside the float run it came from: what quantizing cost."""
    source = run.config.get("quantized_from")
    if run.quantization is None or source is None:
        return
    here = scores[run.path.resolve()]
    for other in (Path(source), run.path / source):  # as given, or relative to the run
        base = scores.get(other.resolve())
        if base is not None:
            change = 100 * (here - base) / base
            print(f"vs float run:   {change:+.2f} % bits per byte ({run.quantization} vs {source})")
            return


def cmd_export(args: argparse.Namespace) -> None:
    from tinylm.interop.commands import export_run

    dtype = args.dtype
    if args.version is not None:
        if args.format != "llama2c":
            raise TinylmError(
                f"--version is llama2c's file version; --format {args.format} has none"
            )
        wanted = "q8_0" if args.version == 2 else "fp32"
        if dtype not in ("fp32", wanted):
            raise TinylmError(
                f"--version {args.version} writes {wanted} weights, not --dtype {dtype}"
            )
        dtype = wanted
    if args.group_size is not None and dtype != "q8_0":
        raise TinylmError(
            "--group-size is for quantized exports (llama2c --version 2); drop it, or quantize "
            "the run first (tinylm quantize RUN --group-size ...)"
        )
    if args.adapter_only:
        if args.format != "hf":
            raise TinylmError("--adapter-only writes a PEFT adapter folder; use --format hf")
        from tinylm.interop.hf import export_adapter

        for line in export_adapter(args.run, args.out):
            print(line)
        return
    if args.report is not None and args.format != "hf":
        raise TinylmError(
            f"--report puts evaluation numbers in the model card of an hf export; --format "
            f"{args.format} has no card"
        )
    lines = export_run(
        args.run, args.format, args.out, dtype, args.tokenizer_out, args.group_size, args.report
    )
    for line in lines:
        print(line)


def cmd_push(args: argparse.Namespace) -> None:
    from tinylm.interop.hub_push import push_run

    print(
        push_run(
            args.run,
            args.repo,
            private=args.private,
            revision=args.revision,
            message=args.message,
            dtype=args.dtype,
        )
    )


def cmd_import(args: argparse.Namespace) -> None:
    from tinylm.interop.commands import import_model

    print(import_model(args.source, args.out, args.tokenizer, args.framing))


def cmd_eval_ratings(args: argparse.Namespace) -> None:
    """`eval --ratings FILE`: the standings of the runs people rated (`tinylm.ratings`)."""
    from tinylm.evalsuite.commands import make_judge
    from tinylm.ratings import (
        judge_agreement,
        judge_grades,
        read_ratings,
        standings,
        standings_markdown,
    )

    if args.runs:
        raise TinylmError("--ratings ranks the runs named in the file; drop the RUN arguments")
    rated = read_ratings(args.ratings)
    result = standings(rated.ratings, seed=args.seed)
    judge = make_judge(args)
    if judge is not None:
        judge.preflight()
        result.judge_agreement = judge_agreement(rated.ratings, judge_grades(judge, rated.ratings))
    if args.json:
        from dataclasses import asdict

        print(json.dumps({**asdict(result), "skipped": rated.skipped}, ensure_ascii=False))
        return
    print(standings_markdown(result, rated.skipped))


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
        lang = args.lang or runs[-1].tokenizer.language
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
    from tinylm.config import ModelConfig
    from tinylm.models import build_model, count_parameters
    from tinylm.presets import PRESETS

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
