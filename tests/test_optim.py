"""`--optimizer muon`: Muon for the hidden matrices, AdamW for embeddings, head and gains."""

from __future__ import annotations

import json
import shutil

import torch
from conftest import run_cli
from test_train import SMALL, _assert_resumed_exactly, _kill_and_resume, metrics

from tinylm.config import ModelConfig
from tinylm.models import build_model
from tinylm.optim import MuonWithAdamW, make_optimizer, orthogonalise


def test_newton_schulz_orthogonalises_wide_and_tall_matrices() -> None:
    torch.manual_seed(0)
    for shape in ((64, 256), (256, 64)):
        g = torch.randn(shape) * torch.logspace(-1, 0, shape[1])  # condition number ~100
        singular = torch.linalg.svdvals(orthogonalise(g))
        # Jordan's coefficients land every singular value near 1 (about 0.7 to 1.15).
        assert singular.min() > 0.6 and singular.max() < 1.2, singular


def test_hidden_matrices_get_muon_and_the_rest_adamw() -> None:
    model = build_model(ModelConfig(dim=32, n_layers=2, n_heads=4, vocab_size=300,
                                    max_seq_len=64, tie_embeddings=False))  # fmt: skip
    opt = make_optimizer(model, "muon", 1e-3, 0.1, (0.9, 0.95))
    assert isinstance(opt, MuonWithAdamW)
    names = {id(p): n for n, p in model.named_parameters()}
    muon = {names[id(p)] for g in opt.param_groups if g["muon"] for p in g["params"]}
    adamw = {names[id(p)] for g in opt.param_groups if not g["muon"] for p in g["params"]}
    assert "model.layers.0.self_attn.q_proj.weight" in muon
    assert "model.layers.1.mlp.down_proj.weight" in muon
    assert {"model.embed_tokens.weight", "lm_head.weight", "model.norm.weight"} <= adamw
    assert not muon & adamw and len(muon | adamw) == len(names)


def test_muon_run_learns_and_resumes_exactly(tmp_path, en_data) -> None:
    args = [*SMALL, "--optimizer", "muon"]
    straight, stopped = _kill_and_resume(tmp_path, en_data, kill_after_step=13, train_args=args)
    _assert_resumed_exactly(tmp_path, straight, stopped)
    val = [r["val_loss"] for r in metrics(tmp_path / "straight") if "val_loss" in r]
    assert val[-1] < val[0] - 0.5, val
    config = json.loads((tmp_path / "straight" / "config.json").read_text())
    assert config["train"]["optimizer"] == "muon"


def test_another_optimizer_on_resume_or_a_typo_is_one_line(tmp_path, trained_run, en_data):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    result = run_cli("train", "--data", str(en_data), "--out", str(run), "--resume",
                     "--max-steps", "200", "--optimizer", "muon")  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"tinylm: error: {run} was trained with --optimizer adamw and its checkpoint holds that "
        f"optimizer's state; resume without --optimizer muon, or start a new run from it with "
        f"--init-from {run} --optimizer muon"
    ]
    typo = run_cli("train", "--data", str(en_data), "--out", str(tmp_path / "new"), *SMALL,
                   "--optimizer", "mu0n")  # fmt: skip
    assert typo.returncode == 2
    assert typo.stderr.strip().splitlines() == [
        "tinylm: error: --optimizer must be one of adamw, muon, got 'mu0n' (did you mean 'muon'?)"
    ]
    assert not (tmp_path / "new").exists()
