"""llama2.c in and out: stories260K imported must write what llama2.c's run.c writes, byte for
byte, and exported files must read back identically."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from conftest import first_stories, run_cli, shared_file
from test_cli import assert_one_line_error

import tinylm
from tinylm.checkpoint import read_tensors, save_model
from tinylm.config import ModelConfig
from tinylm.data.prepare import prepare
from tinylm.interop.llama2c import read_checkpoint
from tinylm.models import build_model
from tinylm.run import write_run_config
from tinylm.synth import write_corpus


@pytest.mark.parametrize("tokenizer", ["tok512.model", "tok512.bin"])
def test_stories260k_writes_what_llama2c_writes(tmp_path, stories260k, tokenizer) -> None:
    """Golden: `./run stories260K.bin -z tok512.bin -t 0 -n 200` (200 steps from BOS; run.c
    strips the space after BOS and ends with a newline, as `tinylm generate` does)."""
    golden = shared_file("llama2c/stories260K-greedy-200.txt").read_bytes()
    run = stories260k
    if tokenizer == "tok512.bin":
        run = tmp_path / "with-bin"
        result = run_cli(
            "import",
            str(shared_file("llama2c/stories260K.bin")),
            "--tokenizer",
            str(shared_file(f"llama2c/{tokenizer}")),
            "--out",
            str(run),
        )
        assert result.returncode == 0, result.stderr
    result = run_cli("generate", str(run), "--temperature", "0", "--max-new-tokens", "200")
    assert result.returncode == 0, result.stderr
    assert result.stdout.encode("utf-8") == golden


def _nll_of_stream(model: torch.nn.Module, stream: list[int], window: int) -> tuple[float, int]:
    """Summed NLL of every token after the first, in consecutive windows of the context size."""
    total, count = 0.0, 0
    for start in range(0, len(stream) - 1, window):
        x = torch.tensor([stream[start : start + window]])
        y = torch.tensor([stream[start + 1 : start + window + 1]])
        with torch.no_grad():
            logits, _ = model(x[:, : y.shape[1]])
        total += float(torch.nn.functional.cross_entropy(logits[0], y[0], reduction="sum"))
        count += y.shape[1]
    return total, count


def test_imported_run_is_scored_as_llama2c_trained_it(tmp_path, stories260k, tinystories_v1):
    """llama2.c's stories are BOS + story, never an EOS: `tinylm eval` scores an imported model
    that way (tinylm's own BOS + story + EOS charged it ~0.8 nats/token more)."""
    import sentencepiece

    stories = first_stories(tinystories_v1, 60)
    text = tmp_path / "stories.txt"
    text.write_text("\n<|endoftext|>\n".join(stories), encoding="utf-8")
    result = run_cli("eval", str(stories260k), "--data", str(text), "--json")
    assert result.returncode == 0, result.stderr
    scores = json.loads(result.stdout.strip().splitlines()[-1])
    assert scores["framing"] == "bos"
    # The same text framed independently: the sentencepiece library's own ids, BOS (1) before
    # each story, one stream, every token after the first predicted once.
    sp = sentencepiece.SentencePieceProcessor(model_file=str(shared_file("llama2c/tok512.model")))
    stream = [t for story in stories for t in [1, *sp.encode(story)]]
    lm = tinylm.load(str(stories260k))
    total, count = _nll_of_stream(lm.model, stream, lm.model_config.max_seq_len)
    assert scores["tokens"] == count
    assert scores["loss"] == pytest.approx(total / count, abs=0.01)
    # ...which is llama2.c's own validation loss for stories260K, 1.297
    assert scores["loss"] == pytest.approx(1.297, abs=0.05)
    # framed the tinylm way, every EOS costs it dearly
    eos = run_cli("eval", str(stories260k), "--data", str(text), "--framing", "bos+eos")
    assert eos.returncode == 0, eos.stderr
    assert "BOS + story + EOS" in eos.stdout
    assert float(eos.stdout.split("loss:")[1].split()[0]) > scores["loss"] + 0.3, eos.stdout


def test_imported_run_continues_prompts(stories260k) -> None:
    lm = tinylm.load(str(stories260k))
    prompt = "Once upon a time, there was a little girl named"
    # 12 tokens: tok512 (512 pieces) spells "loved" and "outside" in several
    text = lm.generate(prompt, max_new_tokens=12, temperature=0)
    assert text == prompt + " Lily. She loved to play outside"


def test_an_imported_model_is_finetuned_on_instruct_records(tmp_path, stories260k) -> None:
    """`finetune` takes an imported llama2.c model like any run: instruct records prepared with
    its own (sentencepiece) tokenizer, the loss on the stories only, its weights as the start."""
    records = tmp_path / "instruct.txt"
    write_corpus(records, "en", 400, seed=1, instruct=True)
    data = tmp_path / "data"
    tokenizer = stories260k / "tokenizer.json"
    prepare([str(records)], data, tokenizer_path=tokenizer, show_progress=False)
    out = tmp_path / "sft"
    result = run_cli(
        "finetune", str(stories260k), "--data", str(data), "--out", str(out), "--max-steps",
        "30", "--eval-every", "15", "--batch-size", "8", "--dtype", "fp32",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "loss on the stories only" in result.stdout
    config = json.loads((out / "config.json").read_text())
    assert config["init_from"] == str(stories260k.resolve()) and config["data"]["instruct"]
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    val = [r["val_loss"] for r in rows if "val_loss" in r]
    # Step 0 is the imported model itself: it already writes stories (random would be 6.2).
    assert val[0] < 3.5 and val[-1] < val[0], val
    story = tinylm.load(str(out)).generate_instruct(words=["dog", "ball"], seed=0)
    assert len(story.split()) > 5


def test_export_reproduces_the_original_files(tmp_path, stories260k) -> None:
    out = tmp_path / "export" / "model.bin"
    result = run_cli("export", str(stories260k), "--format", "llama2c", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == shared_file("llama2c/stories260K.bin").read_bytes()
    tokenizer_bin = out.with_name("tokenizer.bin")
    assert tokenizer_bin.read_bytes() == shared_file("llama2c/tok512.bin").read_bytes()


def test_trained_run_round_trips_through_llama2c(tmp_path, trained_run) -> None:
    """A tinylm-trained run (own BPE tokenizer) -> llama2.c files -> a run with equal weights."""
    out = tmp_path / "model.bin"
    result = run_cli("export", str(trained_run), "--format", "llama2c", "--out", str(out))
    assert result.returncode == 0, result.stderr
    back = tmp_path / "back"
    result = run_cli(
        "import", str(out), "--tokenizer", str(tmp_path / "tokenizer.bin"), "--out", str(back)
    )
    assert result.returncode == 0, result.stderr
    original, _ = read_tensors(trained_run / "model.safetensors")
    restored, _ = read_tensors(back / "model.safetensors")
    assert original.keys() == restored.keys()
    for name in original:
        assert torch.equal(original[name], restored[name]), name
    # Same pieces in the same places (the tokenizer.bin format itself adds llama2.c's dummy
    # space prefix when encoding, so encodings of a prompt differ by design).
    a, b = tinylm.load(str(trained_run)).tokenizer, tinylm.load(str(back)).tokenizer
    assert a.vocab_size == b.vocab_size
    for i in range(a.vocab_size):
        assert a.hf.id_to_token(i).replace(" ", "▁") == b.hf.id_to_token(i), i


def test_untied_classifier_round_trips(tmp_path, stories260k) -> None:
    """Negative vocab_size in the header = a separate classifier at the end of the file."""
    cfg = ModelConfig(
        dim=32,
        n_layers=2,
        n_heads=4,
        n_kv_heads=2,
        vocab_size=512,
        max_seq_len=64,
        tie_embeddings=False,
    )
    torch.manual_seed(0)
    model = build_model(cfg)
    run = tmp_path / "untied"
    run.mkdir()
    save_model(run / "model.safetensors", model)
    shutil.copy(stories260k / "tokenizer.json", run / "tokenizer.json")
    write_run_config(run, cfg, None, {})
    out = tmp_path / "untied.bin"
    result = run_cli("export", str(run), "--format", "llama2c", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert int.from_bytes(out.read_bytes()[20:24], "little", signed=True) == -512
    back_cfg, tensors = read_checkpoint(out)
    assert back_cfg.tie_embeddings is False and back_cfg.n_kv_heads == 2
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensors[name], tensor), name


def test_llama2c_mistakes_are_refused_in_one_line(tmp_path, stories260k, en_data) -> None:
    model = shared_file("llama2c/stories260K.bin")
    tok = shared_file("llama2c/tok512.model")
    truncated = tmp_path / "truncated.bin"
    truncated.write_bytes(model.read_bytes()[:500_000])
    assert_one_line_error(
        run_cli("import", str(truncated), "--tokenizer", str(tok), "--out", str(tmp_path / "a")),
        "truncated.bin is truncated",
        "needs 1,056,540 bytes, the file has 500,000",
    )
    assert not (tmp_path / "a").exists()
    # A tinylm token shard is a .bin too, but not a checkpoint.
    assert_one_line_error(
        run_cli(
            "import", str(en_data / "val.bin"), "--tokenizer", str(tok), "--out", "b", cwd=tmp_path
        ),
        "does not look like a llama2.c checkpoint",
    )
    assert_one_line_error(
        run_cli("import", str(model), "--out", "c", cwd=tmp_path),
        "carries no tokenizer",
        "--tokenizer",
    )
    assert_one_line_error(
        run_cli(
            "import",
            str(model),
            "--tokenizer",
            str(shared_file("llama2c/tok5000-zh.model")),
            "--out",
            "d",
            cwd=tmp_path,
        ),
        "has 5000 tokens but the model",
        "only 512",
    )
    assert_one_line_error(
        run_cli("import", str(model), "--tokenizer", str(tok), "--out", str(stories260k)),
        "is not empty",
    )
    broken_tok = tmp_path / "tok.bin"
    broken_tok.write_bytes(shared_file("llama2c/tok512.bin").read_bytes()[:3000])
    assert_one_line_error(
        run_cli("import", str(model), "--tokenizer", str(broken_tok), "--out", "e", cwd=tmp_path),
        "tok.bin",
        "truncated",
    )
    assert not any((tmp_path / name).exists() for name in "bcde")


def test_export_refuses_what_run_c_cannot_compute(tmp_path, stories260k) -> None:
    run = tmp_path / "theta"
    shutil.copytree(stories260k, run)
    import json

    config = json.loads((run / "config.json").read_text())
    config["model"]["rope_theta"] = 500000.0
    (run / "config.json").write_text(json.dumps(config))
    out = tmp_path / "m.bin"
    assert_one_line_error(
        run_cli("export", str(run), "--format", "llama2c", "--out", str(out)),
        "run.c hard-codes rope_theta 10000",
        "--format hf or gguf",
    )
    assert not out.exists()
