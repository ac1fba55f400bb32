"""Hugging Face in and out: an exported run behaves in transformers exactly as in tinylm, and any
small LlamaForCausalLM folder imports into a run that computes the same logits and can be
evaluated, sampled and trained further."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import first_stories, run_cli, shared_file
from test_cli import assert_one_line_error

import tinylm
from tinylm.checkpoint import read_tensors
from tinylm.data.prepare import prepare
from tinylm.evaluate import evaluate
from tinylm.generate import SamplingOptions, generate_tokens

transformers = pytest.importorskip("transformers")


def hf_logits(folder, ids: torch.Tensor) -> torch.Tensor:
    model = transformers.AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32)
    with torch.no_grad():
        return model(ids).logits


@pytest.fixture(scope="module")
def exported(tmp_path_factory, trained_run):
    out = tmp_path_factory.mktemp("hf") / "tiny-hf"
    result = run_cli("export", str(trained_run), "--format", "hf", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


def test_pipeline_writes_what_tinylm_writes(exported, trained_run) -> None:
    for name in (
        "config.json",
        "generation_config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
    ):
        assert (exported / name).is_file(), name
    pipe = transformers.pipeline("text-generation", model=str(exported), device="cpu")
    assert (pipe.tokenizer.bos_token_id, pipe.tokenizer.eos_token_id) == (1, 2)
    assert pipe.tokenizer.pad_token == "<pad>"
    for prompt in ("Once upon a time", "Tom and his dog went to the park. They"):
        ours = run_cli(
            "generate",
            str(trained_run),
            "--prompt",
            prompt,
            "--temperature",
            "0",
            "--max-new-tokens",
            "60",
        )
        assert ours.returncode == 0, ours.stderr
        theirs = pipe(prompt, max_new_tokens=60, do_sample=False)[0]["generated_text"]
        assert ours.stdout == theirs + "\n"
        assert len(theirs) > len(prompt)  # (where the greedy story ends is the model's business)


def test_logits_agree_with_transformers(exported, trained_run, tinystories_v2) -> None:
    lm = tinylm.load(str(trained_run))
    stories = first_stories(tinystories_v2, 4)
    rows = [lm.tokenizer.encode(s, bos=True)[:100] for s in stories]
    ids = torch.tensor([r for r in rows if len(r) == 100])
    # transformers' own tokenizer gives the same ids (BOS added by the post-processor)
    hf_tok = transformers.AutoTokenizer.from_pretrained(str(exported))
    assert hf_tok(stories[0]).input_ids[:100] == rows[0]
    with torch.no_grad():
        ours, _ = lm.model(ids)
    torch.testing.assert_close(hf_logits(exported, ids), ours, atol=1e-4, rtol=0)


def test_llama2c_model_via_hf_writes_llama2cs_text(tmp_path, stories260k) -> None:
    """llama2.c -> tinylm -> Hugging Face: transformers reproduces run.c's greedy story."""
    out = tmp_path / "hf"
    result = run_cli("export", str(stories260k), "--format", "hf", "--out", str(out))
    assert result.returncode == 0, result.stderr
    model = transformers.AutoModelForCausalLM.from_pretrained(str(out), dtype=torch.float32)
    tok = transformers.AutoTokenizer.from_pretrained(str(out))
    ids = model.generate(torch.tensor([[1]]), max_new_tokens=200, do_sample=False)
    text = tok.decode(ids[0], skip_special_tokens=True)
    golden = shared_file("llama2c/stories260K-greedy-200.txt").read_text(encoding="utf-8")
    assert text + "\n" == golden


@pytest.fixture(scope="module")
def random_hf_folder(tmp_path_factory, en_tokenizer):
    """A LlamaForCausalLM made by transformers: GQA, untied head, rope_theta 500000, eps 1e-6,
    a real BPE tokenizer saved by transformers."""
    folder = tmp_path_factory.mktemp("hf") / "random-llama"
    tok = transformers.PreTrainedTokenizerFast(
        tokenizer_file=str(en_tokenizer),
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
    )
    config = transformers.LlamaConfig(
        vocab_size=1024,
        hidden_size=96,
        intermediate_size=200,
        num_hidden_layers=3,
        num_attention_heads=6,
        num_key_value_heads=2,
        max_position_embeddings=128,
        rms_norm_eps=1e-6,
        rope_theta=500000.0,  # transformers 5 moves this into rope_parameters
        tie_word_embeddings=False,
        initializer_range=0.2,  # peaked logits, so greedy choices are not near-ties
        bos_token_id=1,
        eos_token_id=2,
    )
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config).eval()
    model.save_pretrained(str(folder))
    tok.save_pretrained(str(folder))
    return folder


def test_random_transformers_model_imports_exactly(tmp_path, random_hf_folder) -> None:
    run = tmp_path / "imported"
    result = run_cli("import", str(random_hf_folder), "--out", str(run))
    assert result.returncode == 0, result.stderr
    lm = tinylm.load(str(run))
    cfg = lm.model_config
    assert (cfg.n_heads, cfg.n_kv_heads, cfg.tie_embeddings) == (6, 2, False)
    assert (cfg.rope_theta, cfg.norm_eps, cfg.hidden_dim) == (500000.0, 1e-6, 200)
    ids = torch.tensor([lm.prompt_ids("Once upon a time there was a little fox who")] * 2)
    with torch.no_grad():
        ours, _ = lm.model(ids)
    theirs = hf_logits(random_hf_folder, ids)
    torch.testing.assert_close(theirs, ours, atol=1e-4, rtol=0)
    # Greedy continuations agree token for token. (Raw ids: a random model spells broken UTF-8
    # with byte tokens, which tinylm's sampler would mask and transformers does not.)
    model = transformers.AutoModelForCausalLM.from_pretrained(str(random_hf_folder))
    hf_ids = model.generate(ids[:1], max_new_tokens=40, do_sample=False, eos_token_id=None)
    options = SamplingOptions(max_new_tokens=40, temperature=0)
    ours_ids = [int(t) for t in generate_tokens(lm.model, ids[0].tolist(), options, None)]
    assert hf_ids[0, ids.shape[1] :].tolist() == ours_ids


def test_exported_run_imports_back_unchanged(tmp_path, exported, trained_run) -> None:
    back = tmp_path / "back"
    result = run_cli("import", str(exported), "--out", str(back))
    assert result.returncode == 0, result.stderr
    a, _ = read_tensors(trained_run / "model.safetensors")
    b, _ = read_tensors(back / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert (
        tinylm.load(str(back)).tokenizer.sha256()
        == tinylm.load(str(trained_run)).tokenizer.sha256()
    )


def test_imported_model_is_a_starting_point_for_training(
    tmp_path, exported, trained_run, tinystories_v2
) -> None:
    """Import -> eval -> train --init-from: training continues from the imported weights (its
    first validation loss is the imported model's, far below a fresh model's)."""
    run = tmp_path / "imported"
    assert run_cli("import", str(exported), "--out", str(run)).returncode == 0
    data = tmp_path / "data"
    prepare([str(tinystories_v2)], data, tokenizer_path=run / "tokenizer.json", show_progress=False)
    lm = tinylm.load(str(run))
    before = evaluate(lm.model, lm.tokenizer, data, lm.device, torch.float32, show_progress=False)
    # a trained model, not a random one (ln 1024 = 6.9); the 150-step fixture reaches ~4.8
    assert before.loss < 5.5
    tuned = tmp_path / "tuned"
    result = run_cli(
        "train",
        "--data",
        str(data),
        "--init-from",
        str(run),
        "--out",
        str(tuned),
        "--max-steps",
        "20",
        "--batch-size",
        "8",
        "--grad-accum",
        "1",
        "--lr",
        "1e-3",
        "--warmup",
        "2",
        "--eval-every",
        "20",
        "--eval-batches",
        "100",
        "--dtype",
        "fp32",
    )
    assert result.returncode == 0, result.stderr
    metrics = [json.loads(line) for line in (tuned / "metrics.jsonl").read_text().splitlines()]
    val = [m["val_loss"] for m in metrics if "val_loss" in m]
    assert abs(val[0] - before.loss) < 0.15, (val, before.loss)
    assert val[-1] < val[0]
    config = json.loads((tuned / "config.json").read_text())
    assert config["init_from"] == str(run)
    text = tinylm.load(str(tuned)).generate("Once upon a time", max_new_tokens=30, temperature=0)
    # the 150-step fixture is a weak writer (greedy text may repeat a quote, or end early)
    assert text.startswith("Once upon a time") and len(text) > len("Once upon a time ")


def test_init_from_needs_the_runs_tokenizer(tmp_path, exported) -> None:
    run = tmp_path / "imported"
    assert run_cli("import", str(exported), "--out", str(run)).returncode == 0
    other = tmp_path / "other"
    corpus = tmp_path / "s.txt"
    corpus.write_text("Once upon a time there was a cat.\n<|endoftext|>\nThe end.\n")
    prepare(
        [str(corpus)],
        other,
        tokenizer_path=shared_file("llama2c/tok512.model"),
        val_fraction=0.4,
        show_progress=False,
    )
    assert_one_line_error(
        run_cli(
            "train",
            "--data",
            str(other),
            "--init-from",
            str(run),
            "--out",
            str(tmp_path / "t"),
            "--max-steps",
            "2",
        ),
        "tokenized with another tokenizer than --init-from",
        "--tokenizer",
    )


def write_config(folder, **changes) -> None:
    config = json.loads((folder / "config.json").read_text())
    config.update(changes)
    (folder / "config.json").write_text(json.dumps(config))


def test_unsupported_models_are_refused_in_one_line(tmp_path, random_hf_folder) -> None:
    import shutil

    def variant(name: str, **changes):
        folder = tmp_path / name
        shutil.copytree(random_hf_folder, folder)
        write_config(folder, **changes)
        return folder

    cases = [
        (
            variant(
                "scaled", rope_parameters={"rope_type": "linear", "factor": 2.0, "rope_theta": 1e4}
            ),
            ["rope_type 'linear'"],
        ),
        (variant("scaled4", rope_scaling={"type": "dynamic", "factor": 2.0}), ["rope_scaling"]),
        (variant("bias", attention_bias=True), ["attention_bias = true is not supported"]),
        (variant("gelu", hidden_act="gelu"), ['hidden_act = "gelu"']),
        (variant("moe", num_local_experts=8), ["num_local_experts = 8"]),
        (variant("bigvocab", vocab_size=512), ["has 1024 tokens but the model", "only 512"]),
    ]
    gpt2 = tmp_path / "gpt2"
    transformers.GPT2Config(
        n_layer=1, n_embd=32, n_head=2, architectures=["GPT2LMHeadModel"]
    ).save_pretrained(str(gpt2))
    cases.append((gpt2, ["describes GPT2LMHeadModel", "model_type 'gpt2'", "LlamaForCausalLM"]))
    pickled = tmp_path / "pickled"
    shutil.copytree(random_hf_folder, pickled)
    (pickled / "model.safetensors").rename(pickled / "pytorch_model.bin")
    cases.append((pickled, ["never unpickles", "safe_serialization=True"]))
    no_tok = tmp_path / "notok"
    shutil.copytree(random_hf_folder, no_tok)
    (no_tok / "tokenizer.json").unlink()
    cases.append((no_tok, ["no tokenizer.json or tokenizer.model", "--tokenizer"]))
    for folder, needles in cases:
        out = tmp_path / f"run-{folder.name}"
        assert_one_line_error(run_cli("import", str(folder), "--out", str(out)), *needles)
        assert not out.exists()
