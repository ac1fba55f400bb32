"""Tests for tinylm.synth, the built-in TinyStories-style story generator."""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from tinylm.synth import (
    FEATURES,
    LANGUAGES,
    STORY_SEPARATOR,
    SynthStory,
    format_instruct,
    generate_stories,
    generate_story,
    vocabulary,
    write_corpus,
)
from tinylm.synth.core import compose
from tinylm.synth.grammar_en import a, ing, past, plural, third
from tinylm.synth.templates import tokenize_en

SRC = Path(__file__).resolve().parents[1] / "src"
EN_N = 4000
ZH_N = 3000
# Characters that exist only in Traditional Chinese (their Simplified forms differ).
TRADITIONAL = set("們這說個來時會對開見裡還讓氣樣為麼後點頭長車門馬魚鳥媽爺過給東學習寫書畫飛")
ZH_PUNCT = set("，。！？：；“”、")
MALE_EN = {"he", "him", "his", "himself"}
FEMALE_EN = {"she", "her", "hers", "herself"}


@pytest.fixture(scope="module")
def en_sample():
    return [compose("en", 7, i) for i in range(EN_N)]


@pytest.fixture(scope="module")
def zh_sample():
    return [compose("zh", 7, i) for i in range(ZH_N)]


# -- API, determinism, arguments ----------------------------------------------------------------


def test_public_constants():
    assert LANGUAGES == ("en", "zh")
    assert STORY_SEPARATOR == "<|endoftext|>"
    assert FEATURES == ("Dialogue", "BadEnding", "MoralValue", "Twist", "Foreshadowing", "Conflict")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_deterministic_and_slice_independent(lang):
    first = list(generate_stories(lang, 10, seed=3))
    assert first == list(generate_stories(lang, 10, seed=3))
    assert list(generate_stories(lang, 5, seed=3, start=5)) == first[5:]
    assert generate_story(lang, 3, 7) == first[7]
    assert all(isinstance(s, SynthStory) for s in first)
    other_seed = list(generate_stories(lang, 10, seed=4))
    assert [s.text for s in other_seed] != [s.text for s in first]


def test_same_text_in_another_process():
    """No salted hash() anywhere: a fresh interpreter with another hash seed agrees."""
    code = (
        "from tinylm.synth import generate_story as g;"
        "print(repr(g('en', 123, 45).text)); print(repr(g('zh', 123, 45).text))"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC), "PYTHONHASHSEED": "987"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    expected = f"{generate_story('en', 123, 45).text!r}\n{generate_story('zh', 123, 45).text!r}\n"
    assert out == expected


@pytest.mark.parametrize(
    "call",
    [
        lambda: generate_story("fr", 0, 0),
        lambda: generate_story("en", 0, -1),
        lambda: generate_story("en", "0", 0),
        lambda: generate_stories("en", -1),
        lambda: generate_stories("en", 1.5),
        lambda: generate_stories("en", 3, start=-2),
        lambda: vocabulary("de"),
        lambda: write_corpus("x.txt", "en", -5),
        lambda: write_corpus("x.txt", "jp", 5),
        lambda: format_instruct("not a story", "en"),
    ],
)
def test_bad_arguments_raise_value_error(call):
    with pytest.raises(ValueError) as err:
        call()
    assert "\n" not in str(err.value)


def test_generate_stories_zero():
    assert list(generate_stories("en", 0)) == []


# -- distinctness and variety -------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_100k_stories_are_distinct(lang):
    n = 100_000
    distinct = {hash(s.text) for s in generate_stories(lang, n, seed=2024)}
    assert len(distinct) >= 0.999 * n, f"{lang}: only {len(distinct)} distinct of {n}"


def test_many_arcs_and_openings(en_sample, zh_sample):
    for sample in (en_sample, zh_sample):
        arcs = {draft.arc for _, draft in sample}
        assert len(arcs) >= 14, arcs
    en_openings = {re.split(r"(?<=[.!?]) ", s.text, maxsplit=1)[0] for s, _ in en_sample}
    assert len(en_openings) > 0.5 * EN_N, len(en_openings)
    zh_openings = {s.text.split("。", 1)[0] for s, _ in zh_sample}
    assert len(zh_openings) > 0.4 * ZH_N, len(zh_openings)


def test_all_features_occur(en_sample, zh_sample):
    for sample in (en_sample, zh_sample):
        seen = {f for s, _ in sample for f in s.features}
        assert seen == set(FEATURES)


def test_english_length_distribution(en_sample):
    lengths = [len(tokenize_en(s.text)) for s, _ in en_sample]
    lengths.sort()
    mean, sd = statistics.mean(lengths), statistics.pstdev(lengths)
    p5, p95 = lengths[len(lengths) // 20], lengths[-len(lengths) // 20]
    info = f"mean {mean:.0f}, sd {sd:.0f}, p5 {p5}, p95 {p95}, min {lengths[0]}, max {lengths[-1]}"
    assert 110 <= mean <= 220, info
    assert sd >= 25, info
    assert p5 >= 70 and p95 <= 300, info
    assert lengths[0] >= 40 and lengths[-1] <= 360, info


def test_chinese_length_distribution(zh_sample):
    lengths = [len(s.text) for s, _ in zh_sample]
    mean, sd = statistics.mean(lengths), statistics.pstdev(lengths)
    assert 150 <= mean <= 450 and sd >= 30, (mean, sd)


# -- vocabulary ---------------------------------------------------------------------------------


def test_vocabulary_sizes_and_order():
    for lang, (lo, hi) in {"en": (1200, 2000), "zh": (1000, 2000)}.items():
        vocab = vocabulary(lang)
        assert vocab == sorted(set(vocab))
        assert lo <= len(vocab) <= hi, f"vocabulary({lang!r}) has {len(vocab)} entries"
    assert all(w == w.lower() and re.fullmatch(r"[a-z]+(?:'[a-z]+)?", w) for w in vocabulary("en"))


def test_english_vocabulary_is_true(en_sample):
    vocab = set(vocabulary("en"))
    used: set[str] = set()
    for story, _ in en_sample:
        words = tokenize_en(" ".join((story.text, story.summary, *story.words)))
        used.update(words)
        missing = set(words) - vocab
        assert not missing, (missing, story.text)
    # and the list is not padded with words that never come out
    assert len(used) >= 0.9 * len(vocab), f"only {len(used)} of {len(vocab)} words used"


def _segments(text: str, vocab: set[str], longest: int) -> bool:
    """Whether ``text`` splits into vocabulary units and punctuation."""
    ok = [True] + [False] * len(text)
    for i in range(len(text)):
        if not ok[i]:
            continue
        if text[i] in ZH_PUNCT or text[i] == "\n":
            ok[i + 1] = True
            continue
        for j in range(i + 1, min(len(text), i + longest) + 1):
            if text[i:j] in vocab:
                ok[j] = True
    return ok[-1]


def test_chinese_vocabulary_is_true(zh_sample):
    vocab = set(vocabulary("zh"))
    longest = max(map(len, vocab))
    for story, _ in zh_sample[:1500]:
        for part in (story.text, story.summary, *story.words):
            assert _segments(part, vocab, longest), part


# -- metadata -----------------------------------------------------------------------------------


def _en_forms(word: str) -> set[str]:
    return {word, plural(word), past(word), ing(word), third(word)}


def test_english_metadata_is_true(en_sample):
    for story, _ in en_sample:
        text = story.text
        tokens = set(tokenize_en(text))
        noun, verb, adj = story.words
        assert noun in tokens or plural(noun) in tokens, (story.words, text)
        assert _en_forms(verb) & tokens, (story.words, text)
        assert adj in tokens, (story.words, text)
        assert story.sentence and story.sentence in text
        assert story.summary and story.summary[-1] == "." and story.summary[0].isupper()
        assert list(story.features) == [f for f in FEATURES if f in story.features]
        assert ("Dialogue" in story.features) == ('"' in text), text


def test_chinese_metadata_is_true(zh_sample):
    for story, _ in zh_sample:
        assert all(w in story.text for w in story.words), (story.words, story.text)
        assert story.sentence in story.text
        assert story.summary.endswith("。")
        assert ("Dialogue" in story.features) == ("“" in story.text)


def test_feature_flags_match_arcs(en_sample, zh_sample):
    for sample in (en_sample, zh_sample):
        for story, draft in sample:
            if draft.arc in ("share", "fight"):
                assert "Conflict" in story.features
            if draft.arc in ("noise", "egg"):
                assert "Twist" in story.features
            if draft.arc == "warning":
                assert "Foreshadowing" in story.features


def _names_the_arcs_read() -> tuple[set[str], set[str]]:
    """What the arcs (synth/arcs/) read from a language module ``L``: ``L.NAME`` and
    ``L.S.NAME`` (its scenes)."""
    import ast

    names: set[str] = set()
    scene_names: set[str] = set()
    for path in (SRC / "tinylm" / "synth" / "arcs").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Attribute):
                continue
            if isinstance(node.value, ast.Name) and node.value.id == "L":
                names.add(node.attr)
            elif ast.unparse(node.value) == "L.S":
                scene_names.add(node.attr)
    return names, scene_names


def test_both_languages_supply_what_the_arcs_read():
    """The arcs are written once over a language interface: every template they say exists in
    both languages, as variants or as None (a beat that language does not have)."""
    from tinylm.synth import plots_en, plots_zh
    from tinylm.synth.arcs import Knobs

    names, scene_names = _names_the_arcs_read()
    assert len(names) > 150 and {"RAINY_FUN", "BABIES"} <= scene_names
    for plots in (plots_en, plots_zh):
        assert isinstance(plots.KNOBS, Knobs)
        assert callable(plots.traits) and callable(plots.gift_keys)
        for name in scene_names:
            assert getattr(plots.S, name), (plots.__name__, name)
        for name in names - {"S", "KNOBS", "traits", "gift_keys"}:
            value = getattr(plots, name)  # AttributeError: a template the language lacks
            assert value is None or (isinstance(value, tuple | dict) and value), name
    unsaid = [n for n in names if getattr(plots_en, n) is None and getattr(plots_zh, n) is None]
    assert unsaid == [], "beats that neither language has"


def test_format_instruct():
    story = generate_story("en", 1, 2)
    record = format_instruct(story, "en")
    lines = record.split("\n")
    head = [ln for ln in lines if ln.startswith("Features: ")]
    if story.features:
        assert head == [f"Features: {', '.join(story.features)}"]
    assert f"Words: {', '.join(story.words)}" in lines
    assert f"Summary: {story.summary}" in lines
    assert f"Random sentence: {story.sentence}" in lines
    assert record.endswith(f"Story: \n{story.text}")
    zh = format_instruct(generate_story("zh", 1, 2), "zh")
    assert "\nSummary: " in zh and "\nStory: \n" in zh


# -- English grammar ----------------------------------------------------------------------------


def test_articles_helper():
    assert a("apple") == "an apple"
    assert a("orange cat") == "an orange cat"
    assert a("red ball") == "a red ball"
    assert a("umbrella") == "an umbrella"
    assert a("unicorn") == "a unicorn"
    assert past("run") == "ran" and past("hop") == "hopped" and past("carry") == "carried"
    assert ing("swim") == "swimming" and ing("make") == "making" and ing("tie") == "tying"
    assert plural("puppy") == "puppies" and plural("teddy bear") == "teddy bears"


def test_english_grammar_spot_checks(en_sample):
    for story, _ in en_sample:
        for text in (story.text, story.summary):
            assert not re.search(r"\b[Aa] [aeiouAEIOU]", text), text
            assert not re.search(r"\b[Aa]n [^aeiouAEIOU\W]", text), text
            assert not re.search(r"\b[Aa]n? (?:a|an|the)\b", text), text
            assert "  " not in text and text == text.strip(), text
            assert not re.search(r"\b(\w+) \1\b", text, re.IGNORECASE), text
            assert not re.search(r" [,.!?]", text), text
            assert text.count('"') % 2 == 0, text
        # every sentence starts with a capital letter (a dialogue tag after a quote may not)
        assert not re.search(r'(?:^|[.!?] |\n)"?[a-z]', story.text), story.text
        for quote in re.findall(r'"([^"]*)"', story.text):
            assert quote[0].isupper() and quote[-1] in ".,!?", quote
        assert story.text[-1] in '.!?"'


def test_english_pronouns_agree(en_sample):
    checked = 0
    for story, draft in en_sample:
        tokens = set(tokenize_en(story.text + " " + story.summary))
        genders = set(draft.cast.values())
        if "m" not in genders:  # hero, friend, grown-up, anyone helped: all female
            assert not tokens & MALE_EN, story.text
            checked += 1
        if "f" not in genders:
            assert not tokens & FEMALE_EN, story.text
            checked += 1
        # "…a little girl named Lily. She…": the pronoun right after the introduction
        for m in re.finditer(r"(?:named|called) (\w+)\. (He|She) ", story.text):
            assert m.group(2) == ("He" if draft.cast[m.group(1)] == "m" else "She"), story.text
    assert checked > EN_N // 10


def test_english_names_belong_to_the_cast(en_sample):
    """Coherence: no stray character appears; names are the hero's, the friend's..."""
    allowed = {"I", "Mom", "Dad", "Grandma", "Grandpa", "Saturday", "Ready"}
    for story, draft in en_sample:
        for name in re.findall(r"(?<=[a-z,] )([A-Z][a-z]+)", story.text):
            assert name in draft.cast or name in allowed, (name, story.text)
        hero = next(iter(draft.cast))
        assert story.text.count(hero) >= 2, story.text


# -- Chinese --------------------------------------------------------------------------------------


def test_chinese_is_simplified_with_chinese_punctuation(zh_sample):
    for story, draft in zh_sample:
        for text in (story.text, story.summary, story.sentence):
            assert not set(text) & TRADITIONAL, text
            assert not re.search(r"[A-Za-z0-9 ,.!?:;\"']", text), text
            assert "的的" not in text and "，，" not in text and "。。" not in text
        assert "，" in story.text and "。" in story.text
        marks = [c for c in story.text if c in "“”"]
        assert marks == ["“", "”"] * (len(marks) // 2), story.text
        for line in story.text.split("\n"):
            assert line[-1] in "。！？”", line
        body = story.text.replace("他们", "").replace("她们", "").replace("吉他", "")
        genders = set(draft.cast.values())
        if "m" not in genders:
            assert "他" not in body, story.text
        if "f" not in genders:
            assert "她" not in body, story.text


def test_chinese_opening_style(zh_sample):
    openings = [s.text for s, _ in zh_sample]
    assert any(t.startswith("从前，有一个叫") for t in openings)
    assert any(t.startswith("从前，有一只叫") for t in openings)


# -- corpus files -------------------------------------------------------------------------------


def test_write_corpus_layout_and_atomicity(tmp_path):
    out = tmp_path / "sub" / "stories.txt"
    calls: list[int] = []
    written = write_corpus(out, "en", 1100, seed=5, progress=calls.append)
    expected = "".join(f"{s.text}\n{STORY_SEPARATOR}\n" for s in generate_stories("en", 1100, 5))
    assert out.read_text(encoding="utf-8") == expected
    assert written == out.stat().st_size == len(expected.encode("utf-8"))
    assert sum(calls) == 1100
    assert sorted(p.name for p in out.parent.iterdir()) == ["stories.txt"]
    chunks = out.read_text(encoding="utf-8").split(f"\n{STORY_SEPARATOR}\n")
    assert chunks[-1] == "" and len(chunks) == 1101

    zh = tmp_path / "zh.txt"
    assert write_corpus(zh, "zh", 3) == zh.stat().st_size
    assert zh.read_text(encoding="utf-8").count(STORY_SEPARATOR) == 3


def test_write_corpus_interrupted_leaves_no_trace(tmp_path):
    out = tmp_path / "stories.txt"
    out.write_text("old content\n", encoding="utf-8")

    def stop(advance: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_corpus(out, "en", 2000, progress=stop)
    assert out.read_text(encoding="utf-8") == "old content\n"
    assert [p.name for p in tmp_path.iterdir()] == ["stories.txt"]


def test_write_corpus_zero_stories(tmp_path):
    out = tmp_path / "empty.txt"
    assert write_corpus(out, "zh", 0) == 0
    assert out.read_bytes() == b""


def test_cli_synth_writes_the_same_corpus_as_the_api(tmp_path):
    from conftest import run_cli

    from tinylm.data.readers import read_stories

    out = tmp_path / "zh.txt"
    result = run_cli(
        "data", "synth", "--lang", "zh", "--stories", "50", "--seed", "4", "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    assert "wrote 50 zh stories" in result.stdout
    expected = [s.text for s in generate_stories("zh", 50, seed=4)]
    assert list(read_stories(out)) == expected


def test_cli_print_vocab():
    from conftest import run_cli

    result = run_cli("data", "synth", "--lang", "en", "--print-vocab")
    assert result.returncode == 0
    assert result.stdout.split() == vocabulary("en")
    assert "1" in result.stderr and "words (en)" in result.stderr
