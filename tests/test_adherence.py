"""The instruction-following scores: words with their inflections, feature heuristics, summary
overlap. Checked on hand-written text and on the generator's own stories, whose instructions
are known to be met."""

from __future__ import annotations

import pytest

from tinylm.adherence import has_feature, rouge_l, score, word_forms, word_used
from tinylm.data.instruct import InstructRecord
from tinylm.synth import generate_stories


@pytest.mark.parametrize(
    ("word", "text"),
    [
        ("dog", "The dogs barked."),
        ("run", "Tom ran home."),
        ("run", "They were running."),
        ("happy", "She was happier than ever."),
        ("happy", "They played happily."),
        ("leaf", "The leaves fell."),
        ("try", "He tried again."),
        ("stop", "The bus stopped."),
        ("eat", "The cake was eaten."),
        ("good", "This is the best day."),
        ("ice cream", "They ate two ice creams."),
        ("Dog", "A DOG!"),
    ],
)
def test_inflections_count_as_using_the_word(word: str, text: str) -> None:
    assert word_used(word, text, "en")


@pytest.mark.parametrize(
    ("word", "text"),
    [
        ("war", "It was warm."),
        ("value", "It was valuable."),
        ("cat", "A category of things."),
        ("ice cream", "The ice was cold and the cream was sweet."),
        ("run", "Nobody moved."),
    ],
)
def test_other_words_do_not_count(word: str, text: str) -> None:
    assert not word_used(word, text, "en")


def test_word_forms_include_the_generator_irregulars() -> None:
    assert {"went", "gone", "going", "goes"} <= word_forms("go")
    assert {"mice"} <= word_forms("mouse")


def test_chinese_words_must_appear_as_written() -> None:
    assert word_used("小狗", "有一只小狗在跑。", "zh")
    assert not word_used("小狗", "有一只小猫在跑。", "zh")


@pytest.mark.parametrize(
    ("feature", "yes", "no"),
    [
        ("Dialogue", '"Come here!" said Mom.', "Tom's dog's ball was red."),
        ("Dialogue", "“来吧！”妈妈说。", "妈妈笑了。"),
        (
            "BadEnding",
            "They went to the park. Mom gave her a hug, but Sue was sad all day.",
            "They went to the park. Sue smiled and was happy.",
        ),
        ("MoralValue", "Ben learned that sharing is good.", "Ben played with the ball."),
        ("Twist", "Suddenly, the box began to move!", "The box sat on the table."),
        (
            "Foreshadowing",
            'Dad warned, "Be careful near the pond." Later they played all day and went home.',
            "They played all day and went home. It was a fine day at the pond with dad.",
        ),
        ("Conflict", "Both wanted the red ball, and they argued.", "They shared the red ball."),
        ("Conflict", "两个人都想要，吵了起来。", "他们一起玩。"),
    ],
)
def test_feature_checks(feature: str, yes: str, no: str) -> None:
    assert has_feature(feature, yes)
    assert not has_feature(feature, no)


def test_rouge_l() -> None:
    assert rouge_l("the cat sat on the mat", "the cat sat on the mat") == (1.0, 1.0)
    f1, recall = rouge_l("a big cat sat down", "the cat sat on the mat")
    # LCS "cat sat" = 2: precision 2/5, recall 2/6
    assert recall == pytest.approx(2 / 6) and f1 == pytest.approx(2 * 0.4 * (1 / 3) / (0.4 + 1 / 3))
    assert rouge_l("小猫在睡觉", "小猫睡觉")[1] == 1.0
    assert rouge_l("", "anything") == (0.0, 0.0)


def test_sentence_match_ignores_case_quotes_and_spacing() -> None:
    record = InstructRecord(sentence="She said “Hi” to Ben.")
    assert score(record, 'Then  she SAID "hi" to ben. The end.').sentence
    assert not score(record, "She waved at Ben.").sentence


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_generators_own_stories_meet_their_instructions(lang: str) -> None:
    stories = list(generate_stories(lang, 300, seed=11))  # type: ignore[arg-type]
    words = dialogue = 0
    for story in stories:
        record = InstructRecord(
            story=story.text, words=story.words, features=story.features, summary=story.summary
        )
        result = score(record, story.text)
        words += all(result.words.values())
        dialogue += result.features.get("Dialogue", True)
        assert result.summary_recall is not None and result.summary_recall > 0.2
        # the checks agree with the generator's own labels for Dialogue, both ways
        assert has_feature("Dialogue", story.text) == ("Dialogue" in story.features)
    assert words == len(stories) and dialogue == len(stories)
