"""The CPU attention kernel for heads of size 8 and 16 (src/tinylm/models/small_head_attention.cpp):
same numbers as PyTorch's SDPA, used by the 260k/1m-shaped models, compiled once per machine,
and SDPA again (with one line saying why) where no compiler can build it."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from tinylm.config import ModelConfig
from tinylm.models import build_model, small_head_attention

pytestmark = pytest.mark.skipif(
    shutil.which(os.environ.get("CXX", "c++")) is None,
    reason="no C++ compiler here: the kernel cannot be built (SDPA is used; tested below)",
)


def qkv(batch: int, heads: int, kv_heads: int, length: int, head_dim: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(batch, heads, length, head_dim, generator=g)
    k = torch.randn(batch, kv_heads, length, head_dim, generator=g)
    v = torch.randn(batch, kv_heads, length, head_dim, generator=g)
    return q, k, v


@pytest.mark.parametrize(
    "batch,heads,kv_heads,length,head_dim",
    [
        (2, 8, 4, 512, 8),  # stories260K's attention
        (3, 8, 8, 37, 16),  # 1m's head size; a length that is no multiple of the SIMD width
        (2, 4, 1, 19, 8),  # one kv head for all queries
        (2, 2, 2, 1, 16),  # a single position
    ],
)
def test_outputs_and_gradients_equal_sdpa(batch, heads, kv_heads, length, head_dim) -> None:
    assert small_head_attention.available()
    q, k, v = qkv(batch, heads, kv_heads, length, head_dim)
    grad_out = torch.randn(batch, heads, length, head_dim)
    ours = [t.clone().requires_grad_() for t in (q, k, v)]
    ref = [t.clone().requires_grad_() for t in (q, k, v)]
    out = small_head_attention.causal_attention(*ours)
    expected = F.scaled_dot_product_attention(*ref, is_causal=True, enable_gqa=True)
    out.backward(grad_out)
    expected.backward(grad_out)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    for name, a, b in zip("qkv", ours, ref, strict=True):
        torch.testing.assert_close(a.grad, b.grad, atol=2e-5, rtol=1e-5, msg=f"d{name}")


def test_bf16_inputs_come_back_bf16() -> None:
    q, k, v = qkv(2, 8, 4, 64, 8)
    out = small_head_attention.causal_attention(q.bfloat16(), k.bfloat16(), v.bfloat16())
    assert out.dtype == torch.bfloat16
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    torch.testing.assert_close(out.float(), expected, atol=0.05, rtol=0.02)


def test_registered_op_passes_torch_library_checks() -> None:
    """Fake tensors, autograd registration and AOT dispatch: what torch.compile relies on to
    keep the kernel as one opaque call in a compiled training step."""
    q, k, v = qkv(1, 4, 2, 24, 8)
    torch.library.opcheck(small_head_attention._forward, (q, k, v))
    out, lse = small_head_attention._forward(q, k, v)
    torch.library.opcheck(
        small_head_attention._backward, (q, k, v, out, torch.randn_like(out), lse)
    )


def test_compiled_training_step_keeps_the_kernel_and_its_numbers() -> None:
    """Under torch.compile (fullgraph: no graph break allowed) the kernel is the registered op,
    not the eager autograd.Function that dynamo cannot trace into; the compiled backward runs
    the op's registered gradient. Same output and gradients as eager."""
    q, k, v = qkv(2, 8, 4, 48, 8)
    grad_out = torch.randn(2, 8, 48, 8)
    compiled = torch.compile(small_head_attention.causal_attention, fullgraph=True)
    results = []
    for attend in (small_head_attention.causal_attention, compiled):
        inputs = [t.clone().requires_grad_() for t in (q, k, v)]
        out = attend(*inputs)
        out.backward(grad_out)
        results.append([out, *(t.grad for t in inputs)])
    for a, b in zip(*results, strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-6)


def test_op_refuses_memory_it_would_misread() -> None:
    """The kernel reads raw pointers, so the op checks dtype, layout and shapes first."""
    q, k, v = qkv(1, 4, 2, 24, 8)
    with pytest.raises(ValueError, match="contiguous fp32"):
        small_head_attention._forward(q.transpose(1, 2).contiguous().transpose(1, 2), k, v)
    with pytest.raises(ValueError, match="contiguous fp32"):
        small_head_attention._forward(q.bfloat16(), k, v)
    with pytest.raises(ValueError, match="not \\[B, H, T, D\\]"):
        small_head_attention._forward(q, k, v[:, :, :20].contiguous())


def tiny_config(**overrides) -> ModelConfig:
    base = dict(
        dim=64, n_layers=2, n_heads=8, n_kv_heads=4, vocab_size=96, hidden_dim=128,
        max_seq_len=64,
    )  # fmt: skip
    return ModelConfig(**{**base, **overrides})


def test_model_routes_small_heads_through_the_kernel(monkeypatch) -> None:
    """Training a 260k-shaped model calls the kernel in every layer, and its loss and gradients
    are those of the SDPA path."""
    torch.manual_seed(0)
    model = build_model(tiny_config()).train()
    idx = torch.randint(0, 96, (4, 64))
    targets = torch.randint(0, 96, (4, 64))

    def loss_and_grads() -> tuple[float, dict[str, torch.Tensor]]:
        model.zero_grad()
        _, loss = model(idx, targets=targets)
        loss.backward()
        return loss.item(), {n: p.grad.clone() for n, p in model.named_parameters()}

    calls = []
    real = small_head_attention.causal_attention
    monkeypatch.setattr(
        small_head_attention, "causal_attention", lambda *a: calls.append(1) or real(*a)
    )
    ours = loss_and_grads()
    assert len(calls) == 2  # one per layer
    monkeypatch.setattr(small_head_attention, "usable", lambda q, dropout: False)
    sdpa = loss_and_grads()
    assert len(calls) == 2
    assert ours[0] == pytest.approx(sdpa[0], abs=1e-5)
    for name, grad in sdpa[1].items():
        torch.testing.assert_close(ours[1][name], grad, atol=1e-5, rtol=1e-4, msg=name)


def test_attention_dropout_and_large_heads_keep_sdpa(monkeypatch) -> None:
    calls = []
    monkeypatch.setattr(small_head_attention, "causal_attention", lambda *a: calls.append(1))
    idx = torch.randint(0, 96, (2, 16))
    build_model(tiny_config(dropout=0.1)).train()(idx, targets=idx)
    build_model(tiny_config(n_heads=2, n_kv_heads=2))(idx, targets=idx)  # head size 32
    assert calls == []


def _attend_in_child(args):
    torch.set_num_threads(1)  # what a DataLoader worker does first
    return small_head_attention.causal_attention(*args)


def test_forked_child_after_parent_use_gets_the_same_answer() -> None:
    """A DataLoader worker or multiprocessing pool forks after the parent's kernel ran on the
    OpenMP threads, which do not exist in the child. As for PyTorch's own parallel ops there,
    the child runs on one thread (DataLoader sets it so) and must neither hang nor differ."""
    args = qkv(2, 8, 4, 40, 8)
    parent = small_head_attention.causal_attention(*args)
    with multiprocessing.get_context("fork").Pool(1) as pool:
        child = pool.apply_async(_attend_in_child, (args,)).get(timeout=120)
    torch.testing.assert_close(child, parent, atol=0, rtol=0)


SCRIPT = """
import sys
import torch
from tinylm.config import ModelConfig
from tinylm.models import build_model, small_head_attention
torch.manual_seed(0)
cfg = ModelConfig(dim=64, n_layers=3, n_heads=8, n_kv_heads=4, vocab_size=96, hidden_dim=128,
                  max_seq_len=64)
idx = torch.randint(0, 96, (2, 64))
_, loss = build_model(cfg)(idx, targets=idx)
loss.backward()
# Eager use must not import torch._dynamo (a second and 70 MB for `generate` and `serve`).
print(small_head_attention.available(), f"{loss.item():.5f}", "torch._dynamo" in sys.modules)
"""


def run_script(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        env={**os.environ, "TINYLM_CACHE": str(tmp_path / "cache"), **env},
        timeout=300,
    )


@pytest.mark.parametrize(
    "compiler,says",
    [
        ("/nonexistent/c++", "no C++ compiler ('/nonexistent/c++') found"),
        ("false", "quant_matmul.cpp, llama_decode.cpp) failed"),
    ],
)
def test_without_a_working_compiler_sdpa_is_used_and_says_so(tmp_path, compiler, says) -> None:
    built = run_script(tmp_path / "good")
    assert built.returncode == 0, built.stderr
    assert built.stdout.split()[0] == "True"
    assert built.stdout.split()[2] == "False", "eager kernel use imported torch._dynamo"
    result = run_script(tmp_path / "bad", CXX=compiler)
    assert result.returncode == 0, result.stderr
    available, loss, _ = result.stdout.split()
    assert available == "False"
    assert float(loss) == pytest.approx(float(built.stdout.split()[1]), abs=1e-4)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0] and "falls back to PyTorch ops" in lines[0], lines
    assert "Traceback" not in result.stderr


def test_concurrent_first_builds_share_one_library(tmp_path) -> None:
    """Two processes (torchrun ranks) building at once: both load a whole library, and only
    the finished file is left in the cache."""
    env = {**os.environ, "TINYLM_CACHE": str(tmp_path / "cache")}
    command = [sys.executable, "-c", SCRIPT]
    pipe = subprocess.PIPE
    procs = [
        subprocess.Popen(command, stdout=pipe, stderr=pipe, text=True, env=env) for _ in range(2)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert out.split()[0] == "True", err
    assert outputs[0][0] == outputs[1][0]
    files = sorted(p.name for p in (tmp_path / "cache" / "kernels").rglob("*") if p.is_file())
    assert files == ["tinylm_kernels.so"]


def test_the_kernel_cache_is_keyed_by_sources_compiler_flags_and_cpu(tmp_path) -> None:
    """A cache shared between machines (a network home, a copied $TINYLM_CACHE) must never
    hand a library built with -march=native on one CPU to another."""
    from tinylm import device
    from tinylm.models import native

    cpu, flags = device.cpu_identity(), native.COMPILE_FLAGS
    assert "flags" in cpu and "avx" in cpu  # the CPU's feature list is part of it (x86-64)
    key = native.build_key("c++", flags, cpu)
    assert native.build_key("c++", flags, cpu) == key
    assert native.build_key("c++", flags, cpu.replace(" avx2", "")) != key  # another CPU
    assert native.build_key("c++", (*flags, "-ffast-math"), cpu) != key
    other = tmp_path / "c++"
    other.write_text('#!/bin/sh\nexec c++ "$@"\n')
    other.chmod(0o755)
    assert native.build_key(str(other), flags, cpu) != key  # another compiler
    # For real: a process that dispatches to another instruction set builds its own library in
    # the same cache instead of loading the first one.
    for env in ({"ATEN_CPU_CAPABILITY": "avx2"}, {"ATEN_CPU_CAPABILITY": "default"}):
        result = run_script(tmp_path, **env)
        assert result.returncode == 0, result.stderr
        assert result.stdout.split()[0] == "True"
    built = sorted((tmp_path / "cache" / "kernels").glob(f"*/{native.LIBRARY_NAME}"))
    assert len(built) == 2, built
