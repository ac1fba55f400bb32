"""A model's story framing: which special tokens sit around each story in its training stream.

tinylm prepares every story as BOS + story + EOS. llama2.c's pretokenizer writes BOS + story
and never an EOS (its models learn that a BOS ends the story before it); GPT-2-style corpora put
one end-of-text token between documents; some streams have neither. Scoring a model with a
framing it never saw charges it for tokens it cannot predict (an EOS after every story costs a
BOS-only model several nats each) and poisons the context after them, so `tinylm eval` scores
each model the way it was trained. Bits per byte, which divides by the text's bytes, stays the
yardstick across models.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tinylm.errors import TinylmError, did_you_mean

if TYPE_CHECKING:  # the CLI reads FRAMINGS at start-up, before numpy is needed
    import numpy as np

BOS_EOS, BOS, EOS, NONE = "bos+eos", "bos", "eos", "none"
FRAMINGS = (BOS_EOS, BOS, EOS, NONE)
DESCRIPTIONS = {
    BOS_EOS: "BOS + story + EOS",
    BOS: "BOS + story (no EOS)",
    EOS: "story + EOS (no BOS)",
    NONE: "stories back to back (no BOS or EOS)",
}


def check_framing(name: str, what: str = "--framing") -> str:
    if name not in FRAMINGS:
        raise TinylmError(
            f"{what} must be one of {', '.join(FRAMINGS)}, got '{name}'"
            f"{did_you_mean(name, FRAMINGS)}"
        )
    return name


def run_framing(config: dict[str, Any]) -> str:
    """The framing a run's config.json records. Runs written before it was recorded: llama2.c
    imports are BOS only, everything else was trained on tinylm's BOS + story + EOS."""
    recorded = config.get("framing")
    if recorded is not None:
        return check_framing(str(recorded), "'framing' in config.json")
    source = config.get("source") or {}
    return BOS if source.get("format") == "llama2c" else BOS_EOS


def uses_bos(framing: str) -> bool:
    return framing in (BOS_EOS, BOS)


def uses_eos(framing: str) -> bool:
    return framing in (BOS_EOS, EOS)


def reframe(
    tokens: np.ndarray,
    mask: np.ndarray | None,
    bos_id: int | None,
    eos_id: int | None,
    framing: str,
) -> tuple[np.ndarray, np.ndarray | None]:
    """A prepared stream (BOS + story + EOS for every story) in `framing`: the ids the framing
    leaves out are removed, with their loss-mask entries. Returns the input unchanged (still
    memory-mapped) for tinylm's own framing."""
    drop = []
    if not uses_bos(framing) and bos_id is not None:
        drop.append(bos_id)
    if not uses_eos(framing) and eos_id is not None:
        drop.append(eos_id)
    if not drop:
        return tokens, mask
    import numpy as np

    keep = ~np.isin(tokens, drop)
    return np.asarray(tokens)[keep], None if mask is None else np.asarray(mask)[keep]
