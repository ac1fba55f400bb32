"""The decoding loop's fast paths (right-sized KV cache allocated once, tokens written in place,
no forward pass after the last token) change nothing in what is generated."""

from __future__ import annotations

import pytest
import torch

from tinylm.config import ModelConfig
from tinylm.generate import SamplingOptions, generate_tokens
from tinylm.models import build_model


def tiny(max_seq_len: int) -> torch.nn.Module:
    torch.manual_seed(0)
    cfg = ModelConfig(
        dim=64, n_layers=2, n_heads=8, n_kv_heads=2, vocab_size=300, max_seq_len=max_seq_len
    )
    return build_model(cfg).eval()


def full_recompute_logits(
    model: torch.nn.Module, prompt: list[int], tokens: list[int]
) -> list[torch.Tensor]:
    """The slow reference: the logits for each of `tokens` with the whole window through the
    model, no cache; when the window is full it restarts from the last half of the text (as
    generate_tokens does)."""
    max_len = model.config.max_seq_len
    history = prompt[-max_len:]
    window = list(history)
    out = []
    with torch.no_grad():
        for token in tokens:
            logits, _ = model(torch.tensor([window]))
            out.append(logits[0, -1].float())
            history.append(token)
            window = history[-(max_len // 2) :] if len(window) == max_len else [*window, token]
    return out


def assert_greedy_by_full_recompute(
    model: torch.nn.Module, prompt: list[int], tokens: list[int], tie: float
) -> None:
    """Each token is the reference's argmax given the same history, or within `tie` of it (a
    near-tie that two numeric paths, a cache and a full window, may order differently on
    another CPU); a wrong cache picks tokens far below the argmax. Ties are rare: nearly all
    tokens must be the argmax itself."""
    argmax = 0
    for step, (token, logits) in enumerate(
        zip(tokens, full_recompute_logits(model, prompt, tokens), strict=True)
    ):
        assert float(logits[token]) >= float(logits.max()) - tie, (step, token, logits.argmax())
        argmax += token == int(logits.argmax())
    assert argmax >= 0.9 * len(tokens), (argmax, len(tokens))


@pytest.mark.parametrize(("max_seq_len", "steps"), [(64, 30), (48, 100)])
def test_greedy_matches_full_recompute(max_seq_len, steps) -> None:
    """(48, 100): the generation slides past the context window twice, refilling the cache."""
    model = tiny(max_seq_len)
    prompt = list(range(10, 22))
    options = SamplingOptions(max_new_tokens=steps, temperature=0)
    fast = [int(t) for t in generate_tokens(model, prompt, options, eos_id=None)]
    assert len(fast) == steps
    assert_greedy_by_full_recompute(model, prompt, fast, tie=1e-4)


def test_cache_is_sized_to_the_request_and_no_step_is_wasted() -> None:
    model = tiny(1024)
    caches = []
    make_cache = model.make_cache
    model.make_cache = lambda *a, **k: caches.append(make_cache(*a, **k)) or caches[-1]
    forwards = []
    model.register_forward_hook(lambda module, args, output: forwards.append(args[0].shape))
    options = SamplingOptions(max_new_tokens=20, temperature=0)
    tokens = list(generate_tokens(model, list(range(5, 15)), options, None, num_samples=4))
    assert len(tokens) == 20 and tokens[0].shape == (4,)
    # one cache for 10 prompt + 20 new positions, not the 1024-token context (36x the memory)
    assert len(caches) == 1 and {k.shape[2] for k in caches[0].k} == {30}
    # one prefill, then one single-token step per token except the last
    assert forwards == [(4, 10)] + [(4, 1)] * 19


def test_bf16_weights_decode_over_an_fp32_cache_on_the_cpu() -> None:
    """bf16 weights halve the bytes read per token, but the CPU's attention kernels are 3-4x
    slower in bf16 over a cache: the cache stays fp32 there, and the text is unchanged."""
    model = tiny(64).to(torch.bfloat16)
    assert {k.dtype for k in model.make_cache(1, max_len=8).k} == {torch.float32}
    prompt = list(range(10, 22))
    options = SamplingOptions(max_new_tokens=30, temperature=0)
    fast = [int(t) for t in generate_tokens(model, prompt, options, eos_id=None)]
    # bf16 logits of this model are off by up to ~0.003 (their spread is ~0.17): 0.02 is a tie
    assert_greedy_by_full_recompute(model, prompt, fast, tie=0.02)
