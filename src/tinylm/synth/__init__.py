"""Built-in TinyStories-style story generator: tinylm's embedded default data.

``tinylm demo`` and ``tinylm data synth`` use it when no dataset is available.  Stories are
written from a restricted vocabulary (about 1,500 words a small child knows), in English or
Simplified Chinese, deterministically from (seed, index), with TinyStories-Instruct metadata.

>>> from tinylm.synth import generate_story
>>> story = generate_story("en", seed=0, index=0)
>>> story.text == generate_story("en", 0, 0).text
True
"""

from tinylm.data.readers import STORY_SEPARATOR

from .core import (
    FEATURES,
    LANGUAGES,
    Lang,
    SynthStory,
    estimate_corpus_bytes,
    format_instruct,
    generate_stories,
    generate_story,
    instruct_fields,
    vocabulary,
    write_corpus,
)

__all__ = [
    "FEATURES",
    "LANGUAGES",
    "STORY_SEPARATOR",
    "Lang",
    "SynthStory",
    "estimate_corpus_bytes",
    "format_instruct",
    "generate_stories",
    "generate_story",
    "instruct_fields",
    "vocabulary",
    "write_corpus",
]
