"""Property tests: for any input, either the right answer or one clear error, never a crash."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinylm.config import ModelConfig, TrainConfig, load_toml
from tinylm.data.readers import read_stories
from tinylm.errors import TinylmError
from tinylm.tokenizer import Tokenizer

FAST = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def tok(en_tokenizer) -> Tokenizer:
    return Tokenizer.load(en_tokenizer)


@FAST
@given(text=st.text(min_size=0, max_size=300))
def test_tokenizer_round_trips_any_text(tok, text) -> None:
    assert tok.decode(tok.encode(text)) == text


@FAST
@given(text=st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_tokenizer_round_trips_with_bos_and_eos(tok, text) -> None:
    ids = tok.encode(text, bos=True, eos=True)
    assert ids[0] == tok.bos_id and ids[-1] == tok.eos_id
    assert tok.decode(ids) == text


@FAST
@given(
    data=st.binary(max_size=400),
    suffix=st.sampled_from([".txt", ".jsonl", ".json", ".csv", ".tsv"]),
)
def test_readers_on_arbitrary_bytes_answer_or_refuse_clearly(
    tmp_path_factory, data, suffix
) -> None:
    path = tmp_path_factory.mktemp("bytes") / f"input{suffix}"
    path.write_bytes(data)
    try:
        stories = list(read_stories(path))
    except TinylmError as exc:
        message = str(exc)
        assert "\n" not in message and str(path) in message
        return
    assert all(isinstance(s, str) and s == s.strip() and s for s in stories)


@FAST
@given(cut=st.integers(min_value=0, max_value=2000))
def test_truncated_real_files_never_crash(tinystories_v1, tmp_path_factory, cut) -> None:
    raw = tinystories_v1.read_bytes()[: 2000 + cut * 37]  # often inside a multi-byte char
    folder = tmp_path_factory.mktemp("cut")
    jsonl = folder / "cut.jsonl"
    jsonl.write_bytes(
        b"".join(
            json.dumps({"text": line}).encode() + b"\n"
            for line in raw.decode("utf-8", "ignore").splitlines()
        )[: len(raw)]
    )
    for path, payload in ((folder / "cut.txt", raw), (jsonl, None)):
        if payload is not None:
            path.write_bytes(payload)
        try:
            list(read_stories(path))
        except TinylmError as exc:
            assert "\n" not in str(exc)


@FAST
@given(
    dim=st.integers(1, 96),
    heads=st.integers(1, 12),
    kv=st.integers(1, 12),
    layers=st.integers(0, 3),
    vocab=st.integers(-2, 600),
)
def test_model_config_validates_or_names_the_problem(dim, heads, kv, layers, vocab) -> None:
    cfg = ModelConfig(
        dim=dim, n_heads=heads, n_kv_heads=kv, n_layers=layers, vocab_size=vocab, max_seq_len=16
    )
    try:
        cfg.validate()
    except TinylmError as exc:
        assert "\n" not in str(exc)
        return
    assert dim % heads == 0 and heads % kv == 0 and (dim // heads) % 2 == 0 and vocab > 0
    from tinylm.models import build_model

    model = build_model(cfg)  # a valid config always builds
    assert model.config.head_dim * heads == dim


@FAST
@given(
    key=st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=14),
    value=st.one_of(
        st.integers(-5, 5),
        st.floats(allow_nan=False, width=32),
        st.booleans(),
        st.text(alphabet="abc", max_size=3),
    ),
)
def test_toml_configs_load_or_name_the_key(tmp_path_factory, key, value) -> None:
    path = tmp_path_factory.mktemp("toml") / "c.toml"
    rendered = json.dumps(value) if not isinstance(value, bool) else str(value).lower()
    path.write_text(f"[train]\n{key} = {rendered}\n")
    try:
        _, train = load_toml(path)
        TrainConfig(**train).validate()
    except TinylmError as exc:
        assert "\n" not in str(exc)
    except TypeError as exc:  # pragma: no cover - a type slipping through is a bug
        pytest.fail(f"{key}={value!r}: {exc}")
