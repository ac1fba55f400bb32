"""`tinylm serve` (the OpenAI-compatible HTTP API) and `tinylm gui` (the web app)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tinylm.errors import TinylmError
from tinylm.settings import non_negative_int, positive_int


def add_parsers(commands: Any) -> None:
    srv = commands.add_parser("serve", help="an OpenAI-compatible HTTP API for trained runs")
    srv.add_argument("runs", nargs="+", metavar="RUN", help="run folders; model id = folder name")
    _add_serving_flags(srv, port=8000)
    srv.set_defaults(func=cmd_serve)

    gui = commands.add_parser("gui", help="the web app: models, training, generation, eval")
    gui.add_argument("--runs", default="runs", help="runs folder (the only one it writes to)")
    gui.add_argument("--data", default="data", help="data folder (prepared data, uploads)")
    _add_serving_flags(gui, port=7860)
    gui.set_defaults(func=cmd_gui)


def _port(text: str) -> int:
    value = non_negative_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"must be a port number (0-65535), got {value}")
    return value


def _add_serving_flags(parser: argparse.ArgumentParser, port: int) -> None:
    from tinylm.serve.limits import Limits

    limits = Limits()
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=_port, default=port)
    parser.add_argument("--device", default="auto", help="where models generate: auto, cpu, cuda")
    parser.add_argument("--max-prompt-chars", type=positive_int, default=limits.max_prompt_chars)
    parser.add_argument("--max-tokens", type=positive_int, default=limits.max_new_tokens)
    parser.add_argument(
        "--max-concurrent",
        type=positive_int,
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
