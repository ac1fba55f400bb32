"""The `tinylm` command line. Every user mistake ends in one line on stderr and exit code 2.

Each group of verbs keeps its parsers next to its handlers: `data` (data, tokenizer), `train`
(train, finetune), `use` (generate, eval, export, push, import, presets, demo) and `serving`
(serve, gui). Adding a verb is one `add_parsers` entry in the module of its group.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from tinylm.cli import data, serving, train, use
from tinylm.cli.parser import EXIT_USER_ERROR, ArgumentParser
from tinylm.errors import TinylmError
from tinylm.fileio import (
    disk_full,
    disk_full_message,
    forget_planned_folders,
    remove_planned_folders,
)
from tinylm.version import __version__

GROUPS = (data, train, use, serving)


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="tinylm",
        description="Train, evaluate, sample and ship tiny language models.",
    )
    parser.add_argument("--version", action="version", version=f"tinylm {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    for group in GROUPS:
        group.add_parsers(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], None] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return EXIT_USER_ERROR
    forget_planned_folders()
    try:
        func(args)
    except TinylmError as exc:
        print(f"tinylm: error: {exc}", file=sys.stderr)
        code = EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("tinylm: interrupted", file=sys.stderr)
        code = 130
    except BrokenPipeError:
        return 0
    except OSError as exc:
        if not disk_full(exc):
            raise
        print(f"tinylm: error: {disk_full_message(exc.filename or 'its output')}", file=sys.stderr)
        code = EXIT_USER_ERROR
    else:
        forget_planned_folders()
        return 0
    remove_planned_folders()  # what the failed work made for its outputs and left empty
    return code


if __name__ == "__main__":
    raise SystemExit(main())
