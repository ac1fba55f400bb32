"""`tinylm data synth|prepare|download|clean` and `tinylm tokenizer train`: making data."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tinylm.cli.parser import ArgumentParser
from tinylm.errors import TinylmError
from tinylm.fileio import check_free_space, check_output_file, check_writable_place
from tinylm.settings import non_negative_int, number, positive_int, seed


def add_parsers(commands: Any) -> None:
    data = commands.add_parser("data", help="make and prepare training data")
    data_cmds = data.add_subparsers(
        dest="data_command", metavar="COMMAND", parser_class=ArgumentParser
    )
    synth = data_cmds.add_parser("synth", help="write built-in TinyStories-like stories")
    synth.add_argument("--lang", choices=("en", "zh"), default="en")
    synth.add_argument("--stories", type=non_negative_int, help="how many stories")
    synth.add_argument("--seed", type=seed, default=0)
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
    prep.add_argument("--vocab-size", type=positive_int, help="train a tokenizer of this size")
    prep.add_argument(
        "--bytes", action="store_true", help="byte shards, no tokenizer (for --arch megabyte)"
    )
    prep.add_argument("--val-fraction", type=number, default=0.05)
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
    cl.add_argument("--min-chars", type=non_negative_int)
    cl.add_argument("--max-chars", type=non_negative_int, help="0: no limit (default 20000)")
    cl.add_argument("--min-words", type=non_negative_int, help="default 20")
    cl.add_argument("--max-words", type=non_negative_int, help="0: no limit (default)")
    cl.add_argument("--script", choices=("latin", "han"), help="keep only this script")
    cl.add_argument("--script-min-fraction", type=number)
    cl.add_argument("--offensive", action=switch, help="offensive word filter (default on)")
    cl.add_argument("--offensive-words", metavar="FILE", help="replace the offensive word list")
    cl.add_argument("--exact-dedup", action=switch, help="drop exact duplicates (default on)")
    cl.add_argument("--near-dedup", action=switch, help="drop near duplicates (default on)")
    cl.add_argument("--near-threshold", type=number, help="Jaccard similarity (default 0.8)")
    cl.add_argument("--ngram", type=positive_int, help="words per shingle (default 5)")
    cl.add_argument("--num-perm", type=positive_int, help="MinHash permutations (default 128)")
    cl.add_argument("--vocab-top", type=positive_int, help="keep stories within the N top words")
    cl.add_argument("--vocab-file", help="keep stories within this word list")
    cl.add_argument("--vocab-max-oov", type=number, help="share of words allowed outside")
    cl.add_argument("--workers", type=positive_int, help="processes (default: every core)")
    cl.add_argument("--examples", type=non_negative_int, help="examples per step in the report")
    cl.set_defaults(func=cmd_data_clean)

    tok = commands.add_parser("tokenizer", help="train tokenizers")
    tok_cmds = tok.add_subparsers(
        dest="tokenizer_command", metavar="COMMAND", parser_class=ArgumentParser
    )
    tok_train = tok_cmds.add_parser("train", help="train a byte-fallback BPE tokenizer")
    tok_train.add_argument("inputs", nargs="+", metavar="FILE")
    tok_train.add_argument("--vocab-size", type=positive_int, required=True)
    tok_train.add_argument("--out", required=True, help="output tokenizer.json")
    tok_train.add_argument("--field")
    tok_train.add_argument("--column")
    tok_train.set_defaults(func=cmd_tokenizer_train)


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
    out = check_output_file(args.out)
    need = synth.estimate_corpus_bytes(args.lang, args.stories, args.seed, args.instruct)
    check_free_space(out, need, f"--stories {args.stories:,}")
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
    _say_vocab(result.vocab_size, args.vocab_size)
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
    if args.report:
        check_writable_place(Path(args.report), "--report")
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
    check_output_file(args.out)

    def texts() -> Any:
        for path in paths:
            yield from read_stories(path, field=args.field, column=args.column)

    tokenizer = train_tokenizer(texts(), args.vocab_size)
    tokenizer.save(args.out)
    print(f"trained a {tokenizer.vocab_size}-token byte-fallback BPE tokenizer -> {args.out}")
    _say_vocab(tokenizer.vocab_size, args.vocab_size)


def _say_vocab(got: int, asked: int | None) -> None:
    if asked is not None and got < asked:
        print(
            f"note: the text gave {got:,} tokens of the {asked:,} asked for (too little text for "
            "more merges)"
        )
