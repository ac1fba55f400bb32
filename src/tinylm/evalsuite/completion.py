"""The story-completion protocol of the TinyStories paper: the model continues the beginning of
held-out stories, several samples each at temperature 1, and the completions are scored."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tinylm.adherence import text_lang
from tinylm.generate import SamplingOptions
from tinylm.progress import Progress
from tinylm.run import LoadedRun

_HAN = re.compile(r"[\u3400-\u9fff]")


@dataclass
class Completion:
    prompt_index: int
    sample: int
    text: str
    ended: bool  # the model wrote EOS (a finished story) before the token limit


def story_beginning(story: str, fraction: float = 0.4) -> str:
    """The first `fraction` of the story, cut after a word (English) or character (Chinese),
    never empty and never the whole story."""
    if text_lang(story) == "zh":
        cut = max(1, min(len(story) - 1, round(len(story) * fraction)))
        return story[:cut]
    spans = [m.end() for m in re.finditer(r"\S+", story)]
    if len(spans) < 2:
        return story
    keep = max(1, min(len(spans) - 1, round(len(spans) * fraction)))
    return story[: spans[keep - 1]]


def complete(
    run: LoadedRun,
    prompts: list[str],
    samples: int,
    options: SamplingOptions,
    show_progress: bool = True,
) -> list[Completion]:
    """`samples` completions per prompt, generated as one batch per prompt (shared prompt, KV
    cache of [samples, T]); prompt i uses seed options.seed + i, the same for every run."""
    tok = run.tokenizer
    stops = run.stop_ids
    out: list[Completion] = []
    with Progress(
        f"completing stories ({run.path.name})", len(prompts) * samples, "samples", show_progress
    ) as bar:
        for i, prompt in enumerate(prompts):
            opts = SamplingOptions(**{**vars(options), "seed": (options.seed or 0) + i})
            ids = tok.encode(prompt, bos=True, eos=False)
            rows: list[list[int]] = [[] for _ in range(samples)]
            ended = [False] * samples
            for step in run.sample_ids(ids, opts, samples):
                for j, token in enumerate(step.tolist()):
                    if ended[j]:
                        continue
                    if token in stops:
                        ended[j] = True
                    else:
                        rows[j].append(token)
            prefix = tok.decode(ids[1:])
            for j in range(samples):
                # Decode prompt + continuation together so a word split across the seam is
                # whole, then keep only what the model wrote.
                full = tok.decode(ids[1:] + rows[j])
                text = full[len(prefix) :] if full.startswith(prefix) else tok.decode(rows[j])
                out.append(Completion(i, j, text.strip(), ended[j]))
            bar.advance(samples)
    return out
