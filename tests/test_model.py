"""The Llama model and its configuration."""

from __future__ import annotations

import pytest
import torch

from tinylm.config import ModelConfig, build_configs, load_toml
from tinylm.errors import TinylmError
from tinylm.models import build_model, count_parameters, fused_loss
from tinylm.presets import PRESETS


def small(**overrides) -> ModelConfig:
    values = dict(dim=64, n_layers=2, n_heads=8, n_kv_heads=2, vocab_size=300, max_seq_len=48)
    values.update(overrides)
    return ModelConfig(**values)


@pytest.mark.parametrize("kv_heads", [8, 2, 1])
def test_kv_cache_matches_full_forward(kv_heads) -> None:
    torch.manual_seed(0)
    model = build_model(small(n_kv_heads=kv_heads)).eval()
    idx = torch.randint(0, 300, (3, 40))
    full, _ = model(idx)
    cache = model.make_cache(3)
    parts = [model(idx[:, :17], cache=cache, start=0)[0]]
    parts.append(model(idx[:, 17:25], cache=cache, start=17)[0])  # chunk after cached tokens
    parts += [model(idx[:, i : i + 1], cache=cache, start=i)[0] for i in range(25, 40)]
    torch.testing.assert_close(torch.cat(parts, dim=1), full, atol=1e-5, rtol=1e-5)


def test_fixed_shape_decoding_matches_full_forward() -> None:
    """The step `generate --compile` traces: a tensor position, the whole cache attended with
    the unwritten part masked. Garbage left in unwritten slots (NaN is possible in
    uninitialised memory) must not leak in."""
    torch.manual_seed(0)
    model = build_model(small(n_kv_heads=2)).eval()
    idx = torch.randint(0, 300, (2, 30))
    full, _ = model(idx)
    cache = model.make_cache(2)
    for tensor in (*cache.k, *cache.v):
        tensor.fill_(float("nan"))
    cache.prepare_fixed_shape()
    parts = [model(idx[:, :10], cache=cache, start=0)[0]]
    for i in range(10, 30):
        parts.append(model(idx[:, i : i + 1], cache=cache, start=torch.tensor([i]))[0])
    torch.testing.assert_close(torch.cat(parts, dim=1), full, atol=1e-5, rtol=1e-5)


def test_causal_future_tokens_do_not_leak() -> None:
    torch.manual_seed(0)
    model = build_model(small()).eval()
    a = torch.randint(0, 300, (1, 30))
    b = a.clone()
    b[0, 20:] = (b[0, 20:] + 1) % 300
    la, _ = model(a)
    lb, _ = model(b)
    torch.testing.assert_close(la[:, :20], lb[:, :20])
    assert not torch.allclose(la[:, 20:], lb[:, 20:])


def test_loss_is_log_vocab_at_init_and_ignores_masked_targets() -> None:
    torch.manual_seed(0)
    model = build_model(small(vocab_size=512))
    idx = torch.randint(0, 512, (4, 32))
    targets = idx.roll(-1, 1)
    _, loss = model(idx, targets)
    assert abs(loss.item() - torch.log(torch.tensor(512.0)).item()) < 0.1
    targets[:, :16] = -100
    _, half = model(idx, targets)
    assert torch.isfinite(half)


def test_tied_and_untied_embeddings() -> None:
    tied = build_model(small(tie_embeddings=True))
    untied = build_model(small(tie_embeddings=False))
    assert tied.lm_head.weight is tied.model.embed_tokens.weight
    assert count_parameters(untied) - count_parameters(tied) == 300 * 64


def test_hf_parameter_names() -> None:
    names = set(build_model(small()).state_dict())
    for expected in (
        "model.embed_tokens.weight",
        "model.layers.0.self_attn.q_proj.weight",
        "model.layers.1.mlp.down_proj.weight",
        "model.layers.1.post_attention_layernorm.weight",
        "model.norm.weight",
        "lm_head.weight",
    ):
        assert expected in names


@pytest.mark.parametrize(
    ("name", "millions"), [("260k", 0.26), ("15m", 15.2), ("42m", 41.7), ("110m", 109.5)]
)
def test_presets_have_llama2c_sizes(name, millions) -> None:
    with torch.device("meta"):
        model = build_model(ModelConfig(**PRESETS[name].model))
    assert abs(count_parameters(model) / 1e6 - millions) / millions < 0.02


def test_260k_preset_matches_llama2c_shapes() -> None:
    cfg = ModelConfig(**PRESETS["260k"].model)
    assert (cfg.dim, cfg.hidden_dim, cfg.n_layers, cfg.n_heads, cfg.n_kv_heads) == (
        64,
        172,
        5,
        8,
        4,
    )
    assert (cfg.vocab_size, cfg.max_seq_len) == (512, 512)
    zh = build_configs("zh-110m")[1]
    assert (zh.batch_size, zh.grad_accum, zh.lr, zh.warmup, zh.grad_clip) == (
        4,
        128,
        5e-4,
        1000,
        1.0,
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (dict(dim=100, n_heads=8), "not divisible by n_heads"),
        (dict(n_heads=8, n_kv_heads=3), "n_kv_heads must divide n_heads"),
        (dict(dim=24, n_heads=8, n_kv_heads=8), "must be even"),
        (dict(arch="lama"), "did you mean 'llama'"),
    ],
)
def test_bad_shapes_are_named(overrides, message) -> None:
    with pytest.raises(TinylmError, match=message):
        small(**overrides).validate()


def test_toml_config_typo_gets_a_suggestion(tmp_path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[model]\ndim = 128\nn_layer = 4\n")
    with pytest.raises(TinylmError, match=r"unknown key 'n_layer'.*did you mean 'n_layers'"):
        load_toml(path)
    path.write_text("lr = 'fast'\n")
    with pytest.raises(TinylmError, match="'lr' should be float"):
        load_toml(path)
    path.write_text("[train]\nbatch_size = 4\n[model]\ndim = 32\nn_heads = 4\n")
    model, train = build_configs("1m", *load_toml(path))
    assert (model.dim, model.n_heads, model.n_layers, train.batch_size) == (32, 4, 5, 4)


@pytest.mark.parametrize("autocast", [False, True])
@pytest.mark.parametrize("tie", [False, True])
def test_fused_training_loss_matches_the_plain_loss_and_gradients(
    autocast, tie, monkeypatch
) -> None:
    """Training on the CPU takes the chunked linear cross-entropy: same loss and gradients as
    logits + F.cross_entropy (masked targets included), without returning the logits."""
    monkeypatch.setattr(fused_loss, "CHUNK_LOGITS", 50 * 300)  # 120 rows: chunks of 64 and 56
    torch.manual_seed(0)
    cfg = ModelConfig(dim=32, n_layers=1, n_heads=4, vocab_size=300, max_seq_len=64,
                      tie_embeddings=tie)  # fmt: skip
    model = build_model(cfg)
    idx = torch.randint(0, 300, (3, 40))
    targets = torch.randint(0, 300, (3, 40))
    targets[0, :25] = -100  # a prompt mask

    def loss_and_grads(fused: bool) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        model.zero_grad()
        with torch.autocast("cpu", torch.bfloat16, enabled=autocast):
            if fused:
                logits, loss = model(idx, targets)
                assert logits is None
            else:  # the plain path: logits, then the loss on them
                hidden = {}
                handle = model.model.norm.register_forward_hook(
                    lambda m, i, o: hidden.setdefault("x", o)
                )
                model(idx)
                handle.remove()
                logits = model.lm_head(hidden["x"])
                loss = torch.nn.functional.cross_entropy(
                    logits.float().view(-1, 300), targets.view(-1), ignore_index=-100
                )
        loss.backward()
        return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}

    fused_value, fused_grads = loss_and_grads(True)
    plain_loss, plain_grads = loss_and_grads(False)
    tol = 2e-2 if autocast else 1e-5
    torch.testing.assert_close(fused_value, plain_loss, rtol=tol, atol=tol)
    for name, grad in plain_grads.items():
        torch.testing.assert_close(fused_grads[name], grad, rtol=tol, atol=tol * grad.abs().max())


def plain_loss_and_grads(x, weight, targets, dtype):
    """What the fused loss must equal: full logits in `dtype`, then fp32 cross-entropy."""
    x, weight = x.detach().requires_grad_(), weight.detach().requires_grad_()
    logits = (x.to(dtype) @ weight.to(dtype).T).float()
    loss = torch.nn.functional.cross_entropy(logits, targets, ignore_index=-100)
    loss.backward()
    return loss.detach(), x.grad, weight.grad


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("vocab", [17, 300, 32000])  # tails shorter than a SIMD vector, and 15m's
def test_cross_entropy_kernel_gives_the_plain_loss_and_gradients(dtype, vocab, monkeypatch):
    """The output layer's loss in tinylm's kernel (softmax, loss and gradient per row, in
    place): the numbers of the plain logits + cross_entropy, in fp32 and under bf16 autocast,
    with masked targets, and the same numbers as the PyTorch-ops path it replaces."""
    assert fused_loss._kernel_takes(torch.device("cpu"), dtype), "the kernel did not build"
    monkeypatch.setattr(fused_loss, "CHUNK_LOGITS", 30 * vocab)  # 70 rows: chunks of 64 and 6
    calls = []
    real = fused_loss._loss_and_gradient_rows
    monkeypatch.setattr(
        fused_loss, "_loss_and_gradient_rows", lambda *a: calls.append(1) or real(*a)
    )
    g = torch.Generator().manual_seed(vocab)
    x, weight = torch.randn(70, 32, generator=g), torch.randn(vocab, 32, generator=g) * 0.3
    targets = torch.randint(0, vocab, (70,), generator=g)
    targets[:9] = -100

    def fused(kernel: bool):
        monkeypatch.setattr(fused_loss, "_kernel_takes", lambda device, dt: kernel)
        xs, ws = x.clone().requires_grad_(), weight.clone().requires_grad_()
        with torch.autocast("cpu", torch.bfloat16, enabled=dtype == torch.bfloat16):
            loss = fused_loss.linear_cross_entropy(xs, ws, targets)
        loss.backward()
        return loss.detach(), xs.grad, ws.grad

    in_kernel = fused(True)
    assert len(calls) == 2
    in_torch_ops = fused(False)
    assert len(calls) == 2
    tol = 1e-5 if dtype == torch.float32 else 1e-2
    for ours, ops, plain in zip(
        in_kernel, in_torch_ops, plain_loss_and_grads(x, weight, targets, dtype), strict=True
    ):
        torch.testing.assert_close(ours, plain, rtol=tol, atol=tol * plain.abs().max())
        torch.testing.assert_close(ours, ops, rtol=tol, atol=tol * ops.abs().max())


def test_cross_entropy_kernel_keeps_nan_and_refuses_ids_outside_the_vocabulary() -> None:
    """A NaN logit must reach the loss (training's NaN guard reads it), not be flattened by
    the kernel's clamped exp, even when it is not the target's; a token id beyond the output
    layer is an error that says so, not a read past the row."""
    x, weight = torch.randn(8, 16), torch.randn(40, 16)
    weight[5, 2] = float("nan")  # logit 5 of every row is NaN; no row's target is 5
    targets = torch.randint(6, 40, (8,))
    loss = fused_loss.linear_cross_entropy(x.requires_grad_(), weight.requires_grad_(), targets)
    assert torch.isnan(loss)
    loss.backward()
    assert torch.isnan(x.grad).all()
    with pytest.raises(RuntimeError, match=r"target id outside \[0, vocab size\)"):
        fused_loss.linear_cross_entropy(torch.randn(8, 16), weight, torch.full((8,), 40))


def test_bf16_product_adds_into_the_fp32_sum_exactly() -> None:
    total = torch.randn(1000, 77)
    part = torch.randn(1000, 77).bfloat16()
    expected = total + part.float()
    fused_loss._add_into(total, part)
    torch.testing.assert_close(total, expected, rtol=0, atol=0)


def test_compiled_training_keeps_the_fused_loss_in_one_graph(monkeypatch) -> None:
    """Under torch.compile (fullgraph: a graph break fails the test) the output layer's loss
    is one opaque custom op that runs the kernel, with the loss and gradients of eager mode."""
    torch.manual_seed(0)
    cfg = ModelConfig(dim=32, n_layers=1, n_heads=4, vocab_size=300, max_seq_len=32)
    model = build_model(cfg)
    idx, targets = torch.randint(0, 300, (2, 32)), torch.randint(0, 300, (2, 32))
    targets[0, :5] = -100
    calls = []
    real = fused_loss._loss_and_gradient_rows
    monkeypatch.setattr(
        fused_loss, "_loss_and_gradient_rows", lambda *a: calls.append(1) or real(*a)
    )
    results = []
    for forward in (model, torch.compile(model, fullgraph=True)):
        model.zero_grad()
        with torch.autocast("cpu", torch.bfloat16):
            _, loss = forward(idx, targets)
        loss.backward()
        results.append([loss.detach(), *(p.grad.clone() for p in model.parameters())])
    assert len(calls) == 2  # the kernel ran in both
    for eager, compiled in zip(*results, strict=True):
        torch.testing.assert_close(compiled, eager, rtol=2e-2, atol=2e-2 * eager.abs().max())


COMPILED_STEP = """
import os, sys, torch
from tinylm.config import ModelConfig
from tinylm.device import compile_cache_for_this_cpu
from tinylm.models import build_model
compile_cache_for_this_cpu()
torch.manual_seed(0)
model = build_model(ModelConfig(dim=32, n_layers=1, n_heads=4, vocab_size=300, max_seq_len=32))
idx, targets = torch.randint(0, 300, (2, 32)), torch.randint(0, 300, (2, 32))
losses = []
for forward in (model, torch.compile(model, fullgraph=True)):
    with torch.autocast("cpu", torch.bfloat16):
        _, loss = forward(idx, targets)
    loss.backward()
    losses.append(loss.item())
print(os.environ["TORCHINDUCTOR_CACHE_DIR"], *losses)
"""


def _compiled_step_in_child(tmp_path, capability: str | None) -> tuple[str, float, float]:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "TORCHINDUCTOR_CACHE_DIR"}
    env["TMPDIR"] = str(tmp_path)  # inductor's default cache lives in the temp folder
    env.pop("ATEN_CPU_CAPABILITY", None)
    if capability:
        env["ATEN_CPU_CAPABILITY"] = capability
    result = subprocess.run(
        [sys.executable, "-c", COMPILED_STEP], capture_output=True, text=True, env=env, timeout=600
    )
    assert result.returncode == 0, result.stderr[-2000:]
    folder, eager, compiled = result.stdout.split()
    return folder, float(eager), float(compiled)


@pytest.mark.slow
def test_compiled_code_is_cached_per_instruction_set(tmp_path) -> None:
    """Inductor's cache key leaves ATEN_CPU_CAPABILITY out: without a folder per instruction
    set, kernels cached under one dispatch were loaded under the other (NaN losses, a malloc
    crash). Each dispatch gets its own folder, and every compiled step matches eager."""
    seen = {}
    for capability in (None, "avx2", None):
        folder, eager, compiled = _compiled_step_in_child(tmp_path, capability)
        assert compiled == pytest.approx(eager, rel=2e-2), (capability, eager, compiled)
        assert folder.startswith(str(tmp_path))
        seen.setdefault(capability, folder)
        assert seen[capability] == folder
    assert seen[None] != seen["avx2"]


def test_compile_cache_folder_follows_the_instruction_set_and_respects_the_users(tmp_path):
    import os
    import subprocess
    import sys

    script = (
        "import os; from tinylm.device import compile_cache_for_this_cpu as c; c(); "
        "print(os.environ['TORCHINDUCTOR_CACHE_DIR'])"
    )

    def folder(**env: str) -> str:
        base = {k: v for k, v in os.environ.items() if k != "TORCHINDUCTOR_CACHE_DIR"}
        base.pop("ATEN_CPU_CAPABILITY", None)
        result = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True,
            env={**base, "TMPDIR": str(tmp_path), **env}, timeout=120,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    native, avx2 = folder(), folder(ATEN_CPU_CAPABILITY="avx2")
    assert native != avx2 and native == folder()
    assert os.path.dirname(native) == os.path.dirname(avx2)
    assert folder(TORCHINDUCTOR_CACHE_DIR=str(tmp_path / "mine")) == str(tmp_path / "mine")


def test_the_same_weights_give_the_same_logits_in_every_process() -> None:
    """Exact resume and "the CLI writes what the library writes" compare two processes bit for
    bit. PyTorch's fp32 cos, split over two threads, gave another last bit in about one
    process in four on an Intel Xeon (MKL's vector math), and RoPE's tables with it."""
    import hashlib
    import subprocess
    import sys

    script = (
        "import hashlib, torch\n"
        "from tinylm.config import ModelConfig\n"
        "from tinylm.models import build_model\n"
        "torch.manual_seed(0)\n"
        "cfg = ModelConfig(dim=64, n_layers=2, n_heads=4, vocab_size=300, max_seq_len=512)\n"
        "model = build_model(cfg).eval()\n"
        "with torch.no_grad():\n"
        "    logits, _ = model(torch.arange(512)[None] % 300)\n"
        "print(hashlib.sha256(logits.numpy().tobytes()).hexdigest())\n"
    )
    digests = set()
    for _ in range(6):
        result = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
        digests.add(result.stdout.strip())
    torch.manual_seed(0)
    cfg = ModelConfig(dim=64, n_layers=2, n_heads=4, vocab_size=300, max_seq_len=512)
    with torch.no_grad():
        logits, _ = build_model(cfg).eval()(torch.arange(512)[None] % 300)
    assert digests == {hashlib.sha256(logits.numpy().tobytes()).hexdigest()}
