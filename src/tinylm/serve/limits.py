"""What one request may ask of a server or the GUI. Kept free of torch so the command line can
show the defaults in `--help` without loading it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tinylm.errors import TinylmError
from tinylm.settings import check_text

if TYPE_CHECKING:
    from tinylm.generate import SamplingOptions


@dataclass
class Limits:
    max_prompt_chars: int = 8000
    max_new_tokens: int = 1024
    max_concurrent: int = 2
    max_samples: int = 8
    max_stop_strings: int = 4
    max_prompts: int = 16  # prompts one completions request may list
    # tokens one request may ask for in all (prompts x n x max_tokens): what keeps one client
    # from holding a slot for minutes
    max_request_tokens: int = 16_384

    def check_request(self, prompts: int, n: int, max_new_tokens: int) -> None:
        """The work one request asks for, before it takes a slot."""
        if prompts > self.max_prompts:
            raise TinylmError(f"at most {self.max_prompts} prompts per request, got {prompts:,}")
        asked = prompts * n * max_new_tokens
        if asked > self.max_request_tokens:
            raise TinylmError(
                f"the request asks for up to {asked:,} tokens ({prompts} prompt(s) x n={n} x "
                f"{max_new_tokens} max tokens); the limit is {self.max_request_tokens:,} per "
                "request: send fewer prompts, a smaller n or max_tokens"
            )

    def check(self, prompt: str, options: SamplingOptions, n: int, stop: Sequence[str]) -> None:
        check_text(prompt, "the prompt")
        for s in stop:
            check_text(s, "a stop string")
        if len(prompt) > self.max_prompt_chars:
            raise TinylmError(
                f"the prompt has {len(prompt):,} characters; the limit is "
                f"{self.max_prompt_chars:,} (--max-prompt-chars)"
            )
        if options.max_new_tokens > self.max_new_tokens:
            raise TinylmError(
                f"max tokens {options.max_new_tokens} is over the limit of "
                f"{self.max_new_tokens} (--max-tokens)"
            )
        if not 1 <= n <= self.max_samples:
            raise TinylmError(f"n must be between 1 and {self.max_samples}, got {n}")
        if len(stop) > self.max_stop_strings:
            raise TinylmError(f"at most {self.max_stop_strings} stop strings, got {len(stop)}")
        if any(not s for s in stop):
            raise TinylmError("stop strings must not be empty")
        options.validate()
