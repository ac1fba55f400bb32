"""Sampling from a model: greedy at temperature 0, temperature / top-k / top-p otherwise, a KV
cache for speed, EOS stops a sample by itself, and a seed makes it reproducible."""

from __future__ import annotations

import functools
import warnings
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import nn

from tinylm.device import compile_cache_for_this_cpu
from tinylm.errors import TinylmError
from tinylm.settings import MAX_SEED, check_all, setting

MAX_NEW_TOKENS = 1_000_000  # a novel's worth; the window slides past the context as needed
# Samples decoded side by side: each holds its own KV cache, so 10^6 of them take the memory
# of the machine (the CLI fuzzer's --num-samples 2^31 was killed at 13 GB)
MAX_NUM_SAMPLES = 1024


@dataclass
class SamplingOptions:
    """How to sample, for every caller (the library, `tinylm generate`, the server, the GUI,
    the evaluation): each field declared once with its range (`tinylm.settings`)."""

    # The token buffer is allocated up front: a bound keeps a typo (2**63) a one-line refusal.
    max_new_tokens: int = setting(500, "tokens to write at most", minimum=0, maximum=MAX_NEW_TOKENS)
    temperature: float = setting(0.8, "sampling temperature (0: greedy)", minimum=0)
    top_k: int | None = setting(None, "sample among the k likeliest tokens", above=0)
    top_p: float | None = setting(
        0.95, "sample within the smallest set of tokens this likely", above=0, maximum=1
    )
    seed: int | None = setting(
        None, "random seed (same seed, same text)", minimum=0, maximum=MAX_SEED
    )

    def validate(self) -> None:
        check_all(self)


def sample_next(
    logits: torch.Tensor, options: SamplingOptions, generator: torch.Generator | None
) -> torch.Tensor:
    """logits: [B, V] -> next ids [B]."""
    logits = logits.float()
    # Below float32's smallest normal number the temperature would round to 0 in the division
    # (0/0: NaN); every gap to the top logit is infinite there anyway, which is greedy.
    if options.temperature < torch.finfo(torch.float32).tiny:
        return logits.argmax(dim=-1)
    # Shifted so the largest is 0 first: a tiny temperature (1e-42) then sends the others to
    # -inf rather than every logit to +/-inf (inf - inf: NaN probabilities). Same softmax.
    logits = (logits - logits.amax(dim=-1, keepdim=True)) / options.temperature
    if options.top_k is not None and options.top_k < logits.size(-1):
        kth = torch.topk(logits, options.top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    if options.top_p is not None and options.top_p < 1.0:
        sorted_probs, order = torch.sort(probs, dim=-1, descending=True)
        # Keep the smallest prefix whose mass reaches top_p (always at least the top token).
        drop = sorted_probs.cumsum(dim=-1) - sorted_probs > options.top_p
        sorted_probs = sorted_probs.masked_fill(drop, 0.0)
        probs = torch.zeros_like(probs).scatter_(-1, order, sorted_probs)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


# UTF-8 as a state machine over byte tokens (RFC 3629 table 3-7): the bytes allowed in each
# state, and the state each allowed byte leads to. State 0 is a character boundary.
_CONT = range(0x80, 0xC0)
_UTF8_STATES: list[list[tuple[range, int]]] = [
    [
        (range(0x00, 0x80), 0),
        (range(0xC2, 0xE0), 1),
        (range(0xE0, 0xE1), 3),
        (range(0xE1, 0xED), 2),
        (range(0xED, 0xEE), 4),
        (range(0xEE, 0xF0), 2),
        (range(0xF0, 0xF1), 6),
        (range(0xF1, 0xF4), 5),
        (range(0xF4, 0xF5), 7),
    ],
    [(_CONT, 0)],  # 1: one continuation byte left
    [(_CONT, 1)],  # 2: two left
    [(range(0xA0, 0xC0), 1)],  # 3: after E0 (no overlong forms)
    [(range(0x80, 0xA0), 1)],  # 4: after ED (no surrogates)
    [(_CONT, 2)],  # 5: three left
    [(range(0x90, 0xC0), 2)],  # 6: after F0
    [(range(0x80, 0x90), 2)],  # 7: after F4 (nothing past U+10FFFF)
]


class Utf8Guard:
    """Keeps byte-fallback tokens from spelling invalid UTF-8.

    A small or undertrained model happily samples a lone lead byte or a stray continuation
    byte, which prints as U+FFFD. Masking, per sample, the byte tokens that cannot come next
    (and every non-byte token while a character is half written) makes every output valid text,
    which matters most for Chinese, where rare characters are spelled in bytes."""

    def __init__(self, byte_ids: list[int], vocab_size: int, device: torch.device) -> None:
        n_states = len(_UTF8_STATES)
        ids = torch.tensor(byte_ids, device=device)
        self.banned = torch.ones(n_states, vocab_size, dtype=torch.bool, device=device)
        self.banned[0] = False  # at a boundary any text token is fine...
        self.banned[0, ids] = True  # ...but bytes only as listed below
        next_state = torch.zeros(n_states, vocab_size, dtype=torch.long, device=device)
        for state, rules in enumerate(_UTF8_STATES):
            for byte_range, target in rules:
                allowed = ids[list(byte_range)]
                self.banned[state, allowed] = False
                next_state[state, allowed] = target
        self.next_state = next_state
        self.state: torch.Tensor | None = None

    def mask(self, logits: torch.Tensor) -> torch.Tensor:
        if self.state is None:
            self.state = torch.zeros(logits.shape[0], dtype=torch.long, device=logits.device)
        return logits.masked_fill(self.banned[self.state][:, : logits.shape[-1]], float("-inf"))

    def update(self, tokens: torch.Tensor) -> None:
        assert self.state is not None
        self.state = self.next_state[self.state, tokens]


def check_num_samples(num_samples: int, what: str = "--num-samples") -> None:
    if not 1 <= num_samples <= MAX_NUM_SAMPLES:
        raise TinylmError(
            f"{what} must be 1..{MAX_NUM_SAMPLES:,} (samples decoded together), got "
            f"{num_samples:,}; for more, run again with other --seed values"
        )


@torch.inference_mode()
def generate_tokens(
    model: nn.Module,
    prompt: list[int],
    options: SamplingOptions,
    eos_id: int | None,
    num_samples: int = 1,
    byte_ids: list[int] | None = None,
    stop_ids: tuple[int, ...] = (),
    compile: bool = False,
) -> Iterator[torch.Tensor]:
    """Yield the next token of every sample ([num_samples] ids) until all hit EOS or the limit.

    `stop_ids` end a sample like EOS does (the stop token itself is yielded once). Rows that
    already ended keep yielding `eos_id`. When the context window fills up, the last
    half of it is re-encoded and generation continues (positions restart, as in any
    sliding-window sampler), so long outputs are possible with a short-context model.

    `compile` runs each one-token step through torch.compile (on CUDA as a replayed CUDA
    graph): the first call pays for compiling, later ones decode faster. Families without a
    fixed-shape step (rnn, megabyte) decode eagerly either way."""
    options.validate()
    check_num_samples(num_samples)
    if not prompt:
        raise TinylmError("nothing to generate from: the prompt is empty and there is no BOS")
    was_training = model.training
    model.eval()
    try:
        yield from _generate(
            model, prompt, options, eos_id, num_samples, byte_ids, stop_ids, compile
        )
    finally:
        model.train(was_training)


def _decode_step(
    model: nn.Module, token: torch.Tensor, pos: int | torch.Tensor, cache
) -> torch.Tensor:
    """token [B, 1] at position pos -> logits [B, 1, V]; a tensor pos is the fixed-shape step."""
    return model(token, cache=cache, start=pos)[0]


# model -> {(batch, length, dtype): cache}. Compiled generation reuses one cache per model and
# batch size: a CUDA graph is recorded against its buffers' addresses, so a fresh cache per
# call would mean re-recording the graph every call. (So two compiled generations on the same
# model and batch size must not be interleaved.)
_FIXED_SHAPE_CACHES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _fixed_shape_cache(model: nn.Module, batch: int, length: int):
    caches = _FIXED_SHAPE_CACHES.setdefault(model, {})
    key = (batch, length, model.lm_head.weight.dtype, model.lm_head.weight.device)
    if key not in caches:
        caches[key] = model.make_cache(batch, max_len=length)
        caches[key].prepare_fixed_shape()
    return caches[key]


@functools.cache
def _compiled_step(device_type: str) -> Callable:
    compile_cache_for_this_cpu()
    if device_type == "cuda":
        # "reduce-overhead" records the step as a CUDA graph: one launch per token instead of
        # one per kernel, which is what bounds a small model's decoding on a GPU.
        return torch.compile(_decode_step, mode="reduce-overhead", fullgraph=True, dynamic=False)
    compiled = torch.compile(_decode_step, fullgraph=True, dynamic=False)
    import torch._inductor.config as inductor  # here: it pulls in the whole compiler

    # On the CPU a decoding step is a chain of matrix-vector products, which oneDNN runs at a
    # fraction of the memory bandwidth. Freezing makes the weights constants of the graph, so
    # inductor packs them once and generates its own GEMM kernels for these shapes
    # (max-autotune keeps them where they measure faster): 15m decodes 3-4x faster, for about a
    # minute of compiling the first time (inductor caches it on disk). Freezing applies to
    # inference graphs only, so training is untouched. Frozen weights are why
    # `_forget_stale_steps` exists.
    wanted = dict(
        freezing=True,
        max_autotune=True,
        max_autotune_gemm_backends="CPP,ATEN",
        # its timing tables would otherwise land in the user's output
        autotune_num_choices_displayed=0,
        max_autotune_report_choices_stats=False,
    )
    settings = {k: v for k, v in wanted.items() if hasattr(inductor, k)}  # older torch lacks some
    # ...as would a deprecation warning from inside inductor's autotuner (torch 2.13).
    warnings.filterwarnings("ignore", message="TypedStorage is deprecated", category=UserWarning)

    def step(*args):
        with inductor.patch(settings):
            return compiled(*args)

    return step


# model -> its weights' (address, dtype, in-place version) when a frozen step was compiled.
_FROZEN_WEIGHTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _forget_stale_steps(model: nn.Module) -> None:
    """A frozen CPU step holds a copy of the weights it was compiled with, and torch.compile's
    guards only see the module, so after training or loading new weights in place it would
    decode with the old ones. When the weights changed, its compiled code is dropped."""
    weights = tuple((p.data_ptr(), p.dtype, p._version) for p in model.parameters())
    if _FROZEN_WEIGHTS.get(model, weights) != weights:
        torch._dynamo.reset_code(_decode_step.__code__)
    _FROZEN_WEIGHTS[model] = weights


def _generate(
    model: nn.Module,
    prompt: list[int],
    options: SamplingOptions,
    eos_id: int | None,
    num_samples: int,
    byte_ids: list[int] | None,
    stop_ids: tuple[int, ...] = (),
    compile: bool = False,
) -> Iterator[torch.Tensor]:
    # A model with no context limit (an RNN's state carries everything) sets context_length None.
    max_len = getattr(model, "context_length", model.config.max_seq_len)
    device = next(model.parameters()).device
    generator = None
    if options.seed is not None:
        generator = torch.Generator(device=device)
        generator.manual_seed(options.seed)
    context = torch.tensor(
        prompt[-max_len:] if max_len else prompt, dtype=torch.long, device=device
    )
    context = context.unsqueeze(0).expand(num_samples, -1)  # [B, T]
    steps = options.max_new_tokens
    # The cache is allocated once, no longer than this generation needs; it is only refilled
    # (never reallocated) when a long generation slides past the context window.
    cache_len = None if max_len is None else min(max_len, context.shape[1] + steps)
    fixed_shape = compile and hasattr(model, "rope_cos")  # the llama family's static step
    if fixed_shape:
        # One cache length for every call, so the compiled step is traced once per batch size.
        cache_len = max_len
        cache = _fixed_shape_cache(model, num_samples, max_len)
        compiled = _compiled_step(device.type)
        if device.type != "cuda":  # every step but the CUDA graph freezes the weights
            _forget_stale_steps(model)
        position = torch.zeros(1, dtype=torch.long, device=device)
    else:
        cache = model.make_cache(num_samples, max_len=cache_len)
    # Every sampled token, written in place (a growing torch.cat would copy O(n^2) bytes).
    generated = torch.empty(num_samples, steps, dtype=torch.long, device=device)
    logits, _ = model(context, cache=cache, start=0, last_only=True)
    pos = context.shape[1]
    finished = torch.zeros(num_samples, dtype=torch.bool, device=device)
    guard = Utf8Guard(byte_ids, model.config.vocab_size, device) if byte_ids else None
    for i in range(steps):
        step_logits = logits[:, -1, :]
        if guard is not None:
            step_logits = guard.mask(step_logits)
        token = sample_next(step_logits, options, generator)
        if guard is not None:
            guard.update(token)
        if eos_id is not None:
            token = torch.where(finished, torch.full_like(token, eos_id), token)
            finished |= token == eos_id
        for stop in stop_ids:
            finished |= token == stop
        yield token
        if i == steps - 1 or bool(finished.all()):
            return
        generated[:, i] = token
        if cache_len is not None and pos == cache_len:  # only reached when the context is full
            history = torch.cat([context, generated[:, : i + 1]], dim=1)
            keep = history[:, -(max_len // 2) :]
            logits, _ = model(keep, cache=cache, start=0, last_only=True)
            pos = keep.shape[1]
        elif fixed_shape:
            if device.type == "cuda":
                torch.compiler.cudagraph_mark_step_begin()
            position.fill_(pos)
            logits = compiled(model, token[:, None], position, cache)
            pos += 1
        else:
            logits = _decode_step(model, token[:, None], pos, cache)
            pos += 1
