"""The story generator's output, pinned: a refactor must not change a word of any corpus.

``tinylm.synth`` writes story ``index`` of ``seed`` the same on every machine, and corpora are
reproduced from their seed.  The arcs are written once (``synth/arcs/``) over two languages
whose drift is kept as explicit knobs, so a change there could quietly alter either language;
these digests catch it.  The generator is pure-Python ``random`` seeded from BLAKE2, so the
digests hold on every CPU.

A change that is meant to alter the stories changes what every seed reproduces: regenerate the
digests with ``python tests/test_synth_parity.py`` and say so in the change.
"""

from __future__ import annotations

import hashlib
import json

import pytest

from tinylm.synth import LANGUAGES, format_instruct, instruct_fields, vocabulary
from tinylm.synth.core import compose

SEEDS = (0, 1, 7, 12345)
N = 600  # stories per (language, seed): every arc and most branches, in about a second

# The generator's output before its arcs were merged into one module (and ever since).
DIGESTS = {
    "en/0": "ad8a4b7f8bdef65e2255f7cdfdfd98d87ec285aa8e3059ae9cb4db6d552a24ca",
    "en/1": "b6e1f7c953940e0560ab75b17e273ec212392d7c9f945aca528915b62755ed26",
    "en/7": "99f44dbc29e641059a4c42259a5a437b3d713b5b8046e345d3ac6e0d4978b50c",
    "en/12345": "b12eca251d5066f9091b364f62c35d03b7bc586a9c78e1def8ce8bc5c821d11a",
    "vocab/en": "89b2458229395c6657b8fbe83e2aa4f5a1da357793b9630726f4ade267dacb62",
    "zh/0": "4f3c2dda280ced9b6220d8b65a7c749c863e9730ea38a1c108f57ae210fa5693",
    "zh/1": "1e3882bc9517312843127f8a9ae56e98192ecd276afe095aa70353c775577e50",
    "zh/7": "87a8d560e384932feb9fbdb2c7b6322a14501c885fb69126909728425e77b9cf",
    "zh/12345": "1392d3112f6ba7e30fb27c79b7f73dff16d3fac05298eeada69df232dc2c9813",
    "vocab/zh": "2c6f76a80b818b5137a9f125f2f1f2bf5e44a5c204d58aaef69ef04f68d6e906",
}


def story_digest(lang: str, seed: int, n: int = N) -> str:
    """sha256 over stories 0..n-1 of ``seed``: text, metadata, instruct record, and the
    generator's working record (arc, cast, paragraphs, flags)."""
    h = hashlib.sha256()
    for index in range(n):
        story, draft = compose(lang, seed, index)
        fields = instruct_fields(lang, seed, index)  # type: ignore[arg-type]
        record = {
            "text": story.text,
            "words": story.words,
            "features": story.features,
            "summary": story.summary,
            "sentence": story.sentence,
            "arc": draft.arc,
            "cast": sorted(draft.cast.items()),
            "paras": draft.paras,
            "flags": sorted(draft.flags),
            "fields": fields,
            "instruct": format_instruct(story, lang, fields),  # type: ignore[arg-type]
        }
        h.update(json.dumps(record, ensure_ascii=False, sort_keys=True).encode())
        h.update(b"\0")
    return h.hexdigest()


def vocabulary_digest(lang: str) -> str:
    return hashlib.sha256("\n".join(vocabulary(lang)).encode()).hexdigest()  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_stories_are_unchanged(lang, seed):
    assert story_digest(lang, seed) == DIGESTS[f"{lang}/{seed}"]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_vocabulary_is_unchanged(lang):
    assert vocabulary_digest(lang) == DIGESTS[f"vocab/{lang}"]


if __name__ == "__main__":  # print the digests, to pin a deliberate new generator version
    for lang in LANGUAGES:
        for seed in SEEDS:
            print(f'    "{lang}/{seed}": "{story_digest(lang, seed)}",')
        print(f'    "vocab/{lang}": "{vocabulary_digest(lang)}",')
