"""The `tinylm eval` flags of the evaluation suite. Kept free of torch so `--help` stays fast."""

from __future__ import annotations

import argparse

from tinylm.settings import non_negative_int, number, positive_int

EMBEDDER_CHOICES = ("auto", "all-MiniLM-L6-v2", "tfidf")


def _fraction(text: str) -> float:
    value = number(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def _positive(text: str) -> float:
    value = number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return value


def add_suite_flags(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("report (--report DIR)")
    g.add_argument("--samples", type=positive_int, default=4, help="completions per beginning (4)")
    g.add_argument(
        "--prompt-fraction",
        type=_fraction,
        default=0.4,
        help="share of each held-out story given as the beginning (0.4)",
    )
    g.add_argument("--train-data", help="training stories for novelty (default: the run's data)")
    g.add_argument("--no-novelty", action="store_true", help="skip the training-set comparison")
    g.add_argument(
        "--embedder",
        choices=EMBEDDER_CHOICES,
        default="auto",
        help="nearest-story search: MiniLM (English) or TF-IDF (any language)",
    )
    g.add_argument(
        "--grammar-pairs", type=non_negative_int, default=300, help="minimal pairs (0: skip)"
    )
    g.add_argument("--judge-url", help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080/v1")
    g.add_argument("--judge-model", help="model name the judge endpoint knows")
    g.add_argument(
        "--judge-key-env",
        metavar="VAR",
        help="environment variable with the API key "
        "(default TINYLM_JUDGE_API_KEY, then OPENAI_API_KEY)",
    )
    g.add_argument("--judge-rpm", type=_positive, default=60.0, help="requests per minute (60)")
    g.add_argument(
        "--judge-workers", type=positive_int, default=4, help="requests in flight at once (4)"
    )
    g.add_argument(
        "--judge-retries", type=non_negative_int, default=5, help="retries on 429/5xx (5)"
    )
    g.add_argument(
        "--judge-backoff",
        type=_positive,
        default=1.0,
        help="first retry delay in seconds, doubled each time (1)",
    )
    g.add_argument(
        "--judge-max-tokens", type=positive_int, default=400, help="answer length cap (400)"
    )
    g.add_argument("--judge-cache", help="answer cache folder (default ~/.cache/tinylm/judge)")
    g.add_argument(
        "--lm-eval",
        action="store_true",
        help="also run lm-evaluation-harness on each run exported to HF format",
    )
