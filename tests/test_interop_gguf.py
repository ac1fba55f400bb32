"""GGUF out: read back with gguf's own reader (tensors equal after llama.cpp's q/k permutation,
the tokenizer as llama.cpp's "llama" model expects), and, where llama-cpp-python is installed,
llama.cpp itself writes tinylm's greedy text."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import first_stories, run_cli, shared_file
from test_cli import assert_one_line_error

import tinylm
from tinylm.generate import SamplingOptions, generate_tokens

gguf = pytest.importorskip("gguf")


def export(run, out, *extra: str):
    result = run_cli("export", str(run), "--format", "gguf", "--out", str(out), *extra)
    assert result.returncode == 0, result.stderr
    return gguf.GGUFReader(str(out))


def field(reader, key: str):
    return reader.fields[key].contents()


def tinylm_tensors_from_gguf(reader, cfg) -> dict[str, torch.Tensor]:
    """The file's tensors under tinylm's names, dequantized, q/k back in rotate-half order (what
    `tinylm import` reads, itself checked against transformers' GGUF loader)."""
    from tinylm.interop.gguf_import import gguf_tensors

    return gguf_tensors(reader, cfg, Path(reader.data.filename))


def test_gguf_reads_back_as_the_run(tmp_path, trained_run) -> None:
    reader = export(trained_run, tmp_path / "tiny.gguf")
    lm = tinylm.load(str(trained_run))
    cfg = lm.model_config
    assert field(reader, "general.architecture") == "llama"
    assert field(reader, "llama.context_length") == cfg.max_seq_len
    assert field(reader, "llama.embedding_length") == cfg.dim
    assert field(reader, "llama.block_count") == cfg.n_layers
    assert field(reader, "llama.feed_forward_length") == cfg.hidden_dim
    assert field(reader, "llama.attention.head_count") == cfg.n_heads
    assert field(reader, "llama.attention.head_count_kv") == cfg.n_kv_heads
    assert field(reader, "llama.rope.dimension_count") == cfg.head_dim
    assert field(reader, "llama.rope.freq_base") == pytest.approx(cfg.rope_theta)
    assert field(reader, "llama.attention.layer_norm_rms_epsilon") == pytest.approx(cfg.norm_eps)
    # tinylm's BPE: real spaces become ▁, no dummy prefix, byte tokens typed BYTE (6).
    assert field(reader, "tokenizer.ggml.model") == "llama"
    assert field(reader, "tokenizer.ggml.add_space_prefix") is False
    tokens = field(reader, "tokenizer.ggml.tokens")
    types = field(reader, "tokenizer.ggml.token_type")
    assert len(tokens) == cfg.vocab_size
    assert tokens[:4] == ["<unk>", "<s>", "</s>", "<0x00>"] and types[:4] == [2, 3, 3, 6]
    assert (tokens[259], types[259]) == ("<pad>", 3)
    the = lm.tokenizer.encode(" the")
    assert len(the) == 1 and tokens[the[0]] == "▁the" and types[the[0]] == 1
    assert field(reader, "tokenizer.ggml.bos_token_id") == 1
    assert field(reader, "tokenizer.ggml.eos_token_id") == 2
    # Tied embeddings: no output.weight, llama.cpp reuses token_embd.
    assert "output.weight" not in {t.name for t in reader.tensors}
    restored = tinylm_tensors_from_gguf(reader, cfg)
    state = {k: v for k, v in lm.model.state_dict().items() if k != "lm_head.weight"}
    assert restored.keys() == state.keys()
    for name, tensor in state.items():
        assert torch.equal(restored[name], tensor), name


@pytest.mark.parametrize(
    ("dtype", "torch_dtype"), [("fp16", torch.float16), ("bf16", torch.bfloat16)]
)
def test_gguf_half_precision_keeps_norms_in_fp32(tmp_path, trained_run, dtype, torch_dtype):
    reader = export(trained_run, tmp_path / f"tiny-{dtype}.gguf", "--dtype", dtype)
    kinds = {t.name: t.tensor_type for t in reader.tensors}
    expected = {"fp16": gguf.GGMLQuantizationType.F16, "bf16": gguf.GGMLQuantizationType.BF16}
    assert kinds["blk.0.attn_q.weight"] == expected[dtype]
    assert kinds["blk.0.attn_norm.weight"] == gguf.GGMLQuantizationType.F32
    lm = tinylm.load(str(trained_run))
    restored = tinylm_tensors_from_gguf(reader, lm.model_config)
    for name, tensor in lm.model.state_dict().items():
        if name.endswith("norm.weight"):
            assert torch.equal(restored[name], tensor), name
        elif name in restored:
            assert torch.equal(restored[name], tensor.to(torch_dtype).float()), name


def transformers_from_gguf(path):
    """transformers' own GGUF reader: an independent check of the tensor names, the metadata
    and the q/k permutation (it undoes llama.cpp's interleaving its own way)."""
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("accelerate", reason="transformers reads GGUF files only with accelerate")
    return transformers.AutoModelForCausalLM.from_pretrained(
        str(path.parent), gguf_file=path.name, dtype=torch.float32
    )


def test_transformers_reads_the_gguf_as_the_run(tmp_path, trained_run, tinystories_v2) -> None:
    path = tmp_path / "tiny.gguf"
    export(trained_run, path)
    model = transformers_from_gguf(path)
    lm = tinylm.load(str(trained_run))
    cfg = lm.model_config
    assert (model.config.num_hidden_layers, model.config.num_key_value_heads) == (
        cfg.n_layers,
        cfg.n_kv_heads,
    )
    rows = [lm.tokenizer.encode(s, bos=True)[:100] for s in first_stories(tinystories_v2, 4)]
    ids = torch.tensor([r for r in rows if len(r) == 100])
    with torch.no_grad():
        ours, _ = lm.model(ids)
        theirs = model(ids).logits
    torch.testing.assert_close(theirs, ours, atol=1e-5, rtol=0)


def test_transformers_from_gguf_writes_llama2cs_story(tmp_path, stories260k) -> None:
    """llama2.c -> tinylm -> GGUF -> transformers: still run.c's greedy story, byte for byte."""
    path = tmp_path / "s.gguf"
    export(stories260k, path)
    model = transformers_from_gguf(path)
    ids = model.generate(
        torch.tensor([[1]]), max_new_tokens=200, do_sample=False, eos_token_id=[2, 1]
    )
    text = tinylm.load(str(stories260k)).tokenizer.decode(ids[0, 1:].tolist())
    golden = shared_file("llama2c/stories260K-greedy-200.txt").read_text(encoding="utf-8")
    assert text + "\n" == golden


def test_sentencepiece_vocab_goes_in_as_sentencepiece_wrote_it(tmp_path, stories260k) -> None:
    """For a converted .model the GGUF vocabulary is the original one, pieces and scores, as
    llama.cpp's convert_hf_to_gguf.py would write it from tokenizer.model."""
    spm = pytest.importorskip("sentencepiece")
    reference = spm.SentencePieceProcessor(model_file=str(shared_file("llama2c/tok512.model")))
    reader = export(stories260k, tmp_path / "s.gguf")
    assert field(reader, "tokenizer.ggml.add_space_prefix") is True
    tokens = field(reader, "tokenizer.ggml.tokens")
    scores = field(reader, "tokenizer.ggml.scores")
    assert tokens == [reference.id_to_piece(i) for i in range(512)]
    assert scores == [reference.get_score(i) for i in range(512)]


def test_gguf_export_refuses_other_runs_mistakes(tmp_path) -> None:
    assert_one_line_error(
        run_cli("export", str(tmp_path / "nope"), "--format", "gguf", "--out", "x.gguf"),
        "run folder not found",
    )
    assert_one_line_error(
        run_cli("export", str(tmp_path), "--format", "onnx", "--out", "x"), "invalid choice"
    )
    # A file format needs a file name, not a folder (checked before the run is read).
    for fmt in ("gguf", "llama2c"):
        assert_one_line_error(
            run_cli("export", str(tmp_path / "nope"), "--format", fmt, "--out", str(tmp_path)),
            "is a folder",
            "export writes one file",
        )


# -- llama.cpp itself ---------------------------------------------------------------------------


def load_llama_cpp(path):
    llama_cpp = pytest.importorskip(
        "llama_cpp", reason="llama-cpp-python not installed (pip install 'tinylm[llamacpp]')"
    )
    return llama_cpp.Llama(model_path=str(path), n_ctx=0, n_threads=2, verbose=False)


def llama_cpp_greedy(llm, prompt_ids: list[int], n: int, stops: set[int]) -> list[int]:
    out: list[int] = []
    for token in llm.generate(prompt_ids, temp=0.0, top_k=1, top_p=1.0, repeat_penalty=1.0):
        if token in stops or len(out) == n:
            break
        out.append(token)
    return out


def test_llama_cpp_writes_tinylms_greedy_text(tmp_path, trained_run, tinystories_v2) -> None:
    path = tmp_path / "tiny.gguf"
    export(trained_run, path)
    llm = load_llama_cpp(path)
    lm = tinylm.load(str(trained_run))
    # llama.cpp's tokenizer gives tinylm's ids on real stories.
    for story in first_stories(tinystories_v2, 50):
        assert llm.tokenize(story.encode(), add_bos=True) == lm.tokenizer.encode(story, bos=True)
    for prompt in ("Once upon a time", "Lily and Ben"):
        ids = lm.prompt_ids(prompt)
        options = SamplingOptions(max_new_tokens=60, temperature=0)
        ours = [int(t) for t in generate_tokens(lm.model, ids, options, None)]
        theirs = llama_cpp_greedy(llm, ids, 60, stops=set())
        assert theirs == ours
        text = llm.detokenize(theirs).decode("utf-8")
        assert prompt + text == lm.generate(prompt, max_new_tokens=60, temperature=0)


def test_llama_cpp_writes_llama2cs_story(tmp_path, stories260k) -> None:
    path = tmp_path / "s.gguf"
    export(stories260k, path)
    llm = load_llama_cpp(path)
    tokens = llama_cpp_greedy(llm, [1], 200, stops={1, 2})
    text = llm.detokenize(tokens).decode("utf-8")
    golden = shared_file("llama2c/stories260K-greedy-200.txt").read_text(encoding="utf-8")
    assert text.removeprefix(" ") + "\n" == golden
