"""tinylm's megabyte against lucidrains' MEGABYTE-pytorch: training and sampling throughput.

    pip install megabyte-pytorch        # the peer (not a tinylm dependency)
    python benchmarks/megabyte.py
    python benchmarks/megabyte.py --gen-bytes 1024 --train-steps 20

Both models have the shape of the `megabyte-1m` preset (bytes, patch 4, global dim 128 x 5
layers, local dim 64 x 2 layers, 1024-byte context) and run in the same process, on the same
random bytes, with the same thread count. Training: forward + backward + AdamW on batches of
8 x 1024 bytes. Sampling: one sample from a 4-byte prompt, top-k 26 (the peer's default
`filter_thres=0.9` over 260 ids), never stopping early. The peer recomputes the whole sequence
for every byte (no KV cache); tinylm keeps a KV cache at both levels.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("TQDM_DISABLE", "1")  # the peer's sampling loop draws a tqdm bar

import torch

from tinylm.config import ModelConfig
from tinylm.generate import SamplingOptions, generate_tokens
from tinylm.models import build_model, count_parameters
from tinylm.presets import PRESETS

VOCAB = 260  # tinylm's byte ids: 3 specials + 256 bytes + pad


def peer_model(cfg: ModelConfig, context: int):
    from MEGABYTE_pytorch import MEGABYTE

    return MEGABYTE(
        num_tokens=VOCAB,
        dim=(cfg.dim, cfg.local_dim),
        depth=(cfg.n_layers, cfg.local_layers),
        max_seq_len=(context // cfg.patch_size, cfg.patch_size),
        dim_head=cfg.dim // cfg.n_heads,
        heads=cfg.n_heads,
    )


def train_bytes_per_s(loss_fn, model: torch.nn.Module, batch: torch.Tensor, steps: int) -> float:
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    for i in range(steps + 2):  # two warm-up steps, untimed
        if i == 2:
            start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss_fn(model, batch).backward()
        optimizer.step()
    return steps * batch.numel() / (time.perf_counter() - start)


def ours_loss(model: torch.nn.Module, batch: torch.Tensor) -> torch.Tensor:
    return model(batch[:, :-1], targets=batch[:, 1:])[1]


def peer_loss(model: torch.nn.Module, batch: torch.Tensor) -> torch.Tensor:
    return model(batch, return_loss=True)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-steps", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--gen-bytes", type=int, default=256, help="sequence length to sample")
    args = parser.parse_args()
    torch.manual_seed(0)
    cfg = ModelConfig(**PRESETS["megabyte-1m"].model)
    T = cfg.max_seq_len
    ours, peer = build_model(cfg), peer_model(cfg, T)
    print(
        f"{platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}, load {os.getloadavg()[0]:.1f}"
    )
    print(
        f"params: tinylm {count_parameters(ours) / 1e6:.2f}M, "
        f"MEGABYTE-pytorch {count_parameters(peer) / 1e6:.2f}M"
    )

    # Training: the peer predicts all T bytes of its input; ours gets T+1 bytes for T targets.
    batch = torch.randint(3, 259, (args.batch_size, T + 1))
    train_ours = train_bytes_per_s(ours_loss, ours, batch, args.train_steps)
    train_peer = train_bytes_per_s(peer_loss, peer, batch[:, :T], args.train_steps)

    # Sampling args.gen_bytes bytes in all, prompt included, without stopping early.
    n = args.gen_bytes
    prompt = torch.randint(3, 259, (1, 4))
    options = SamplingOptions(max_new_tokens=n - 4, temperature=1.0, top_k=26, seed=0)
    ours.eval()
    prompt_ids = prompt[0].tolist()
    gen_ours = (n - 4) / timed(lambda: list(generate_tokens(ours, prompt_ids, options, None)))
    sampler = peer_model(cfg, n).eval()
    sampler.load_state_dict(peer.state_dict())
    with torch.inference_mode():
        gen_peer = (n - 4) / timed(lambda: sampler.generate(prompt, filter_thres=0.9))

    print("\n| megabyte-1m shape, CPU fp32 | tinylm | MEGABYTE-pytorch | ratio |")
    print("|---|---:|---:|---:|")
    print(
        f"| training, bytes/s ({args.batch_size} x {T}) | {train_ours:,.0f} | {train_peer:,.0f} "
        f"| {train_ours / train_peer:.2f}x |"
    )
    print(
        f"| sampling {n} bytes, bytes/s | {gen_ours:,.1f} | {gen_peer:,.1f} "
        f"| {gen_ours / gen_peer:.2f}x |"
    )


if __name__ == "__main__":
    main()
