"""`tinylm finetune RUN --lora-rank R`: only low-rank adapters train, the base stays frozen; the
run folder holds the merged model (an ordinary run), the adapters load in `peft` on the base's
Hugging Face export with the same logits, and --resume is exact."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.conftest import first_stories, interrupt_run, run_cli

FLAGS = [
    "--batch-size", "8", "--grad-accum", "1", "--eval-every", "20", "--eval-batches", "2",
    "--save-every", "10", "--sample-tokens", "8", "--dtype", "fp32", "--lr", "5e-3",
    "--warmup", "2", "--log-every", "5",
]  # fmt: skip


def lora_run(base: Path, data: Path, out: Path, *extra: str) -> None:
    result = run_cli(
        "finetune", str(base), "--data", str(data), "--out", str(out), "--max-steps", "30",
        "--lora-rank", "4", "--lora-targets", "q,v,down", *FLAGS, *extra,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "trainable parameters" in result.stdout + result.stderr


def latest_checkpoint(run: Path) -> Path:
    return sorted((run / "checkpoints").iterdir())[-1]


@pytest.fixture(scope="module")
def base(stories260k) -> Path:
    """llama2.c's stories260K, imported: a model trained well enough that adapting its linears
    matters (on tinylm's own 150-step test run the embeddings still carry most of the loss,
    and training the linears alone, full rank or LoRA, barely moves it)."""
    return stories260k


@pytest.fixture(scope="module")
def narrow(tmp_path_factory, base, tinystories_v1) -> Path:
    """A new task for the base: a dozen real TinyStories, told over and over (every val story
    is one of them), prepared with the base's tokenizer."""
    from tinylm.data.prepare import prepare

    root = tmp_path_factory.mktemp("narrow")
    text = root / "dozen.txt"
    text.write_text("\n<|endoftext|>\n".join(first_stories(tinystories_v1, 12) * 40))
    prepare([str(text)], root / "data", tokenizer_path=base / "tokenizer.json", show_progress=False)
    return root / "data"


@pytest.fixture(scope="module")
def adapted(tmp_path_factory, base, narrow) -> Path:
    out = tmp_path_factory.mktemp("lora") / "adapted"
    lora_run(base, narrow, out)
    return out


def test_only_adapters_train_and_the_run_is_the_merged_model(adapted, base):
    from safetensors.torch import load_file

    from tinylm.run import load_run

    ckpt = load_file(latest_checkpoint(adapted) / "model.safetensors")
    frozen = load_file(base / "model.safetensors")
    adapters = [k for k in ckpt if ".lora_" in k]
    layers = load_run(base).model_config.n_layers
    assert len(adapters) == 2 * 3 * layers  # A and B on q, v and down of every layer
    for key, value in frozen.items():  # the base is frozen: every weight exactly as it was
        assert torch.equal(ckpt[key], value), key
    b = ckpt["model.layers.0.self_attn.q_proj.lora_B.weight"]
    assert b.abs().max() > 0  # B starts at zero: it moved, so the adapters learned

    # AdamW holds moments for the adapters only: far less optimizer memory than full training
    state = load_file(latest_checkpoint(adapted) / "trainer_state.safetensors")
    moments = sum(v.numel() for k, v in state.items() if k.startswith("optim."))
    trainable = sum(ckpt[k].numel() for k in adapters)
    assert 2 * trainable <= moments <= 2 * trainable + 64  # exp_avg + exp_avg_sq (+ steps)
    assert trainable < 0.1 * sum(v.numel() for v in frozen.values())

    # model.safetensors of the run = W + alpha/r * B @ A: it loads as a plain run
    config = json.loads((adapted / "config.json").read_text())
    scale = config["train"]["lora_alpha"] / config["train"]["lora_rank"]
    assert config["train"]["lora_alpha"] == 8  # default: 2 x rank
    merged = load_file(adapted / "model.safetensors")
    assert not any(".lora_" in k for k in merged)
    layer = "model.layers.0.mlp.down_proj"
    expected = ckpt[f"{layer}.weight"] + scale * (
        ckpt[f"{layer}.lora_B.weight"] @ ckpt[f"{layer}.lora_A.weight"]
    )
    torch.testing.assert_close(merged[f"{layer}.weight"], expected)
    assert torch.equal(merged["model.layers.0.self_attn.k_proj.weight"], frozen[
        "model.layers.0.self_attn.k_proj.weight"])  # fmt: skip

    # ...and its held-out loss fell from the base's
    metrics = [json.loads(x) for x in (adapted / "metrics.jsonl").read_text().splitlines()]
    vals = [r["val_loss"] for r in metrics if "val_loss" in r]
    assert vals[-1] < vals[0] - 0.2  # 1.72 -> 1.24 when measured
    story = load_run(adapted).generate("Once upon a time", max_new_tokens=20, temperature=0)
    assert len(story) > len("Once upon a time")


def test_peft_loads_the_adapters_on_the_base_with_the_merged_logits(tmp_path, adapted, base):
    peft = pytest.importorskip("peft")
    from transformers import AutoModelForCausalLM

    from tinylm.run import load_run

    base_hf, adapter_dir, merged_hf = tmp_path / "base", tmp_path / "adapter", tmp_path / "merged"
    assert run_cli("export", str(base), "--format", "hf", "--out", str(base_hf)).returncode == 0
    result = run_cli(
        "export", str(adapted), "--format", "hf", "--adapter-only", "--out", str(adapter_dir)
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in adapter_dir.iterdir()) == [
        "adapter_config.json", "adapter_model.safetensors"]  # fmt: skip
    assert (
        run_cli("export", str(adapted), "--format", "hf", "--out", str(merged_hf)).returncode == 0
    )

    ids = torch.tensor([load_run(adapted).tokenizer.encode("Once upon a time there was", bos=True)])
    with torch.no_grad():
        ours = load_run(adapted).model(ids)[0]
        lora = peft.PeftModel.from_pretrained(
            AutoModelForCausalLM.from_pretrained(base_hf), adapter_dir
        ).eval()
        theirs = lora(ids).logits
        merged = AutoModelForCausalLM.from_pretrained(merged_hf).eval()(ids).logits
        plain = AutoModelForCausalLM.from_pretrained(base_hf).eval()(ids).logits
    torch.testing.assert_close(theirs, ours, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(merged, ours, atol=1e-4, rtol=1e-4)
    assert (plain - ours).abs().max() > 1e-3  # the adapters change what the model computes


def test_lora_resume_is_exact(tmp_path, base, narrow):
    straight = tmp_path / "straight"
    lora_run(base, narrow, straight)
    stopped = tmp_path / "stopped"
    args = [
        "finetune", str(base), "--data", str(narrow), "--out", str(stopped),
        "--max-steps", "30", "--lora-rank", "4", "--lora-targets", "q,v,down", *FLAGS,
    ]  # fmt: skip
    interrupt_run(args, stopped, after_step=12)
    result = run_cli(*args, "--resume")
    assert result.returncode == 0, result.stderr

    def losses(run: Path) -> dict[int, float]:
        rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
        return {r["step"]: r["train_loss"] for r in rows if "train_loss" in r}

    assert losses(stopped) == losses(straight)  # same process layout, same floats


def test_lora_mistakes_are_one_line(tmp_path, base, narrow):
    def error(*args: str) -> str:
        result = run_cli(*args)
        assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
        return result.stderr.strip().splitlines()[-1]

    out = str(tmp_path / "x")
    line = error("finetune", str(base), "--data", str(narrow), "--out", out,
                 "--lora-rank", "4", "--lora-targets", "q,gates")  # fmt: skip
    assert "no 'gates' layer" in line and "gate" in line
    line = error("train", "--data", str(narrow), "--out", out, "--preset", "260k",
                 "--lora-rank", "4")  # fmt: skip
    assert "adapts a trained model" in line and "tinylm finetune" in line
    line = error("finetune", str(base), "--data", str(narrow), "--out", out,
                 "--lora-alpha", "8")  # fmt: skip
    assert "--lora-alpha" in line and "--lora-rank" in line
    line = error("export", str(base), "--format", "hf", "--adapter-only", "--out", out)
    assert "no LoRA adapters" in line
    assert not Path(out).exists()


def test_lora_under_torchrun_ddp_gives_the_single_process_curve(tmp_path, base, narrow):
    """2 processes x batch 4 against 1 x batch 8: the same global batches (batches are a
    function of the step), so the same losses up to float reduction order."""
    from tests.test_distributed import assert_same_curve, curve, torchrun

    common = ["--data", str(narrow), "--max-steps", "10", "--lora-rank", "4", *FLAGS]
    single, ddp = tmp_path / "single", tmp_path / "ddp"
    result = run_cli("finetune", str(base), "--out", str(single), *common, "--batch-size", "8")
    assert result.returncode == 0, result.stderr
    result = torchrun("finetune", str(base), "--out", str(ddp), *common, "--batch-size", "4")
    assert result.returncode == 0, result.stderr
    assert "2 processes (ddp)" in result.stdout + result.stderr
    assert_same_curve(curve(ddp), curve(single))


def test_lora_on_instruct_data_within_a_time_budget(tmp_path, base):
    """The trainer's other features with adapters: instruct records (the loss on the stories
    only, through the mask) and a time budget that sizes the run."""
    records, data = tmp_path / "instruct.txt", tmp_path / "instruct"
    result = run_cli("data", "synth", "--instruct", "--stories", "300", "--out", str(records))
    assert result.returncode == 0, result.stderr
    result = run_cli("data", "prepare", str(records), "--tokenizer", str(base / "tokenizer.json"),
                     "--out", str(data))  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = tmp_path / "tuned"
    result = run_cli(
        "finetune", str(base), "--data", str(data), "--out", str(out), "--instruct",
        "--lora-rank", "4", "--time-budget", "20s", *FLAGS,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    said = result.stdout + result.stderr
    assert "time budget 00:20 ->" in said and "trainable parameters" in said
    config = json.loads((out / "config.json").read_text())
    assert config["data"]["instruct"] and config["train"]["loss_mask"]
    assert (out / "adapter_model.safetensors").is_file()
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert max(r.get("elapsed", 0) for r in rows) < 20 * 1.5
