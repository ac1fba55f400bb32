"""The tokenizer a user trains: exact round trips, Llama layout, and transformers interop."""

from __future__ import annotations

import pytest
from conftest import first_stories, run_cli

from tinylm.errors import TinylmError
from tinylm.tokenizer import StreamDecoder, Tokenizer, train_tokenizer

TRICKY = [
    "Once upon a time, there was a little girl named Lily.",
    "  leading spaces, runs   of   spaces, trailing  ",
    "line one\nline two\n\n\nafter blank lines\r\nwindows line\ttab",
    "小明很高兴。他说：“你好！”",
    "emoji 🎉🦄 and ZWJ 👩‍👩‍👧 and flags 🇫🇷",
    "accents: é (NFC) vs e\u0301 (NFD), ß, ø, Ωμέγα, Привет, עברית, العربية",
    "<s> looks special </s> but is text <pad>",
    "\u200b zero width, \ufeff BOM inside, \x00 NUL, \x7f DEL",
    "",
]


@pytest.fixture(scope="module")
def tok(en_tokenizer) -> Tokenizer:
    return Tokenizer.load(en_tokenizer)


def test_round_trip_any_unicode(tok: Tokenizer) -> None:
    for text in TRICKY:
        assert tok.decode(tok.encode(text)) == text


def test_round_trip_real_stories_both_sources(tok, tinystories_v2) -> None:
    for story in first_stories(tinystories_v2, 200):  # curly quotes, trailing spaces
        assert tok.decode(tok.encode(story)) == story


def test_llama_layout_and_specials(tok: Tokenizer) -> None:
    assert (tok.bos_id, tok.eos_id) == (1, 2)
    assert tok.hf.id_to_token(0) == "<unk>"
    assert tok.hf.id_to_token(3) == "<0x00>" and tok.hf.id_to_token(258) == "<0xFF>"
    assert tok.pad_id == 259
    assert tok.vocab_size == 1024
    ids = tok.encode("Hi", bos=True, eos=True)
    assert ids[0] == 1 and ids[-1] == 2


def test_text_comes_out_as_written(tok: Tokenizer) -> None:
    text = 'Once upon a time, Tom said, "Look!"'
    pieces = [tok.hf.id_to_token(i) for i in tok.encode(text)]
    assert "".join(pieces) == text  # no spaces inserted between tokens, capitals kept
    assert len(pieces) < len(text) / 2.5  # it learned real merges from real text


def test_unseen_characters_fall_back_to_bytes(tok: Tokenizer) -> None:
    ids = tok.encode("龍")  # not in English training text
    assert all(3 <= i <= 258 for i in ids) and len(ids) == 3
    assert tok.decode(ids) == "龍"


def test_transformers_loads_it_and_agrees(en_tokenizer) -> None:
    transformers = pytest.importorskip("transformers")
    hf = transformers.PreTrainedTokenizerFast(tokenizer_file=str(en_tokenizer))
    ours = Tokenizer.load(en_tokenizer)
    for text in TRICKY[:6]:
        ids = hf(text, add_special_tokens=False).input_ids
        assert ids == ours.encode(text)
        assert hf.decode(ids) == text
    # with special tokens the BOS is prepended, matching training data
    assert hf("Hello").input_ids[0] == 1


def test_stream_decoder_never_prints_half_characters(tok: Tokenizer) -> None:
    text = "狗🎉 ok"
    stream = StreamDecoder(tok)
    pieces = [stream.push(i) for i in tok.encode(text)]
    assert "".join(pieces) + stream.flush() == text
    assert all("\ufffd" not in p for p in pieces)


def test_chinese_tokenizer_learns_characters(chinese_csv) -> None:
    from tinylm.data.readers import read_stories

    tok = train_tokenizer(read_stories(chinese_csv), 3000, show_progress=False)
    story = next(iter(read_stories(chinese_csv)))
    ids = tok.encode(story)
    assert tok.decode(ids) == story
    # Han characters are vocabulary entries, not 3 byte tokens each
    assert len(ids) < len(story)


def test_too_small_vocab_and_empty_corpus_are_refused() -> None:
    with pytest.raises(TinylmError, match="at least"):
        train_tokenizer(["hello"], 100, show_progress=False)
    with pytest.raises(TinylmError, match="no text"):
        train_tokenizer([], 1000, show_progress=False)


def test_cli_tokenizer_train(tmp_path, tinystories_v1) -> None:
    out = tmp_path / "tok.json"
    result = run_cli(
        "tokenizer", "train", str(tinystories_v1), "--vocab-size", "600", "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    tok = Tokenizer.load(out)
    assert tok.vocab_size == 600
    assert tok.decode(tok.encode("Lily and Ben")) == "Lily and Ben"


def test_loading_a_non_tokenizer_is_one_clear_line(tmp_path) -> None:
    bad = tmp_path / "tok.json"
    bad.write_text("{not json")
    with pytest.raises(TinylmError, match=r"not a Hugging Face tokenizer\.json"):
        Tokenizer.load(bad)


def test_a_character_cut_off_by_the_token_limit_is_left_out_not_printed_as_fffd(en_tokenizer):
    """A generation that stops (max_new_tokens) between the bytes of a character ends before
    that character; a real U+FFFD the model spelled in full stays."""
    tokenizer = Tokenizer.load(en_tokenizer)
    byte = tokenizer.byte_ids
    prompt = tokenizer.encode("Once")
    for spelled, expected in (
        ((0xE5,), ""),
        ((0xE5, 0xAD), ""),
        ((0xE5, 0xAD, 0x97), "字"),
        ((0xF0, 0x9F, 0x90), ""),
        ((0xEF, 0xBF, 0xBD), "\ufffd"),
        ((0x41, 0xC3), "A"),
    ):
        stream = StreamDecoder(tokenizer, prompt)
        text = "".join(stream.push(byte[b]) for b in spelled) + stream.flush()
        assert text == expected, spelled
