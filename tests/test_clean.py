"""`tinylm data clean` on real TinyStories / Chinese files and on hand-made bad files: each step
does exactly its job, nothing is lost silently, and the report matches the output."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import first_stories, run_cli

from tinylm.data.clean import CleanConfig, build_clean_config, clean
from tinylm.data.clean.dedup import MinHasher
from tinylm.data.clean.text import words
from tinylm.data.readers import read_stories
from tinylm.errors import TinylmError

SEP = "<|endoftext|>"


def write_txt(path: Path, stories: list[str]) -> Path:
    path.write_text("".join(f"{s}\n{SEP}\n" for s in stories), encoding="utf-8")
    return path


def check_chain(report: dict) -> None:
    """Per step kept + removed == entered; steps chain from input to output."""
    entered = report["input_stories"]
    for step in report["steps"]:
        assert step["entered"] == entered, step["name"]
        assert step["kept"] + step["removed"] == step["entered"], step["name"]
        entered = step["kept"]
    assert entered == report["output_stories"]
    assert sum(s["kept"] for s in report["sources"]) == report["output_stories"]
    assert sum(s["stories"] for s in report["sources"]) == report["input_stories"]


def removed(report: dict) -> dict[str, int]:
    return {s["name"]: s["removed"] for s in report["steps"] if s["removed"]}


def test_real_english_heads_with_report(tmp_path, tinystories_v1, tinystories_v2) -> None:
    out = tmp_path / "clean.txt"
    result = run_cli(
        "data", "clean", str(tinystories_v1), str(tinystories_v2),
        "--out", str(out), "--report", str(tmp_path / "r" / "report.md"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    check_chain(report)
    assert report["input_stories"] == 2317 + 1728
    kept = list(read_stories(out))
    assert len(kept) == report["output_stories"]
    # Both cut-off last stories are gone: V1's ends mid-sentence, V2's has no closing separator.
    assert not any(s.endswith("She said it was") for s in kept)
    v2_last = list(read_stories(tinystories_v2))[-1]
    assert v2_last not in kept
    gone = removed(report)
    assert gone["incomplete"] >= 2 and gone["exact-dup"] == 1
    assert report["cross_source_duplicates"]["exact-dup"] == 1
    # V2's curly quotes and trailing spaces are normalised.
    text = out.read_text(encoding="utf-8")
    assert not any(c in text for c in "“”‘’")
    assert not any(line.endswith(" ") for line in text.splitlines())
    steps = {s["name"]: s for s in report["steps"]}
    assert steps["quotes"]["modified"] > 100 and steps["whitespace"]["modified"] > 100
    assert len(steps["incomplete"]["examples"]) == 3
    # The Markdown tells the same numbers as the JSON, and the plots are real PNGs.
    md = (tmp_path / "r" / "report.md").read_text()
    inc = steps["incomplete"]
    assert f"| incomplete | yes | {inc['entered']:,} | {inc['removed']:,} |" in md
    assert f"| output | {report['output_stories']:,}" in md
    assert f"**{report['vocab_size']:,}** distinct words" in md
    for png in ("report-lengths.png", "report-top-words.png"):
        assert (tmp_path / "r" / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({png})" in md
    assert "cleaned 4,045 stories" in result.stdout


@pytest.fixture()
def bad_files(tmp_path, tinystories_v1) -> dict[str, Path]:
    real = first_stories(tinystories_v1, 6)
    near = real[1].replace("play in the sun", "play in the rain", 1)
    assert near != real[1]
    folder = tmp_path / "in"
    folder.mkdir()
    rude = "Tom saw a shit on the road and he ran home to tell his mom about the big mess he saw."
    mojibake = real[3].rstrip(".") + ". She said, â€œdonâ€™t go!â€\x9d"  # UTF-8 read as cp1252
    truncated = real[4][:200].rstrip(".!? ") + " and then the"
    files = {
        "good": write_txt(folder / "good.txt", [real[0], real[1], real[2]]),
        "dups": write_txt(folder / "dups.txt", [real[0], near, rude]),
        "mojibake": write_txt(folder / "mojibake.txt", [mojibake]),
        "truncated": write_txt(folder / "truncated.txt", [truncated]),
        "empty": folder / "empty.txt",
    }
    files["empty"].write_bytes(b"")
    broken = folder / "broken.txt"
    broken.write_bytes(
        real[5].encode()[:60] + b"\xff\xfe" + real[5].encode()[60:] + f"\n{SEP}\n".encode()
    )
    files["broken"] = broken
    return files


def test_bad_files_each_step_does_exactly_its_job(tmp_path, bad_files) -> None:
    out = tmp_path / "clean.jsonl"
    result = clean(
        [str(p) for p in bad_files.values()], out, CleanConfig(workers=1), show_progress=False
    )
    report = result.as_dict()
    check_chain(report)
    assert report["input_stories"] == 3 + 3 + 1 + 1 + 1  # the empty file adds none
    assert removed(report) == {
        "replacement": 1,  # broken.txt: the two bad bytes became U+FFFD
        "incomplete": 1,  # truncated.txt
        "offensive": 1,
        "exact-dup": 1,  # real[0] again in dups.txt
        "near-dup": 1,  # real[1] with one word changed
    }
    assert result.step("ftfy").modified == 1
    kept = [json.loads(line)["text"] for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(kept) == 4
    assert any(
        s.endswith('She said, "don\'t go!"') for s in kept
    )  # mojibake repaired, quotes straightened
    broken = next(s for s in result.sources if s.path.endswith("broken.txt"))
    assert broken.encoding_problems == 2
    assert broken.problem_offsets[0].endswith("broken.txt: invalid UTF-8 at byte offset 60")
    empty = next(s for s in result.sources if s.path.endswith("empty.txt"))
    assert empty.stories == 0
    near = result.step("near-dup").examples[0]
    assert "play in the rain" in near["text"] and "play in the sun" in near["duplicate_of"]
    assert "dups.txt story 2" in near["where"] and "good.txt story 2" in near["why"]
    assert result.cross_source_duplicates == {"exact-dup": 1, "near-dup": 1}


def test_every_step_can_be_switched_off(tmp_path, bad_files) -> None:
    config = CleanConfig(
        workers=1, ftfy=False, quotes=False, drop_replacement=False, drop_incomplete=False,
        offensive=False, exact_dedup=False, near_dedup=False, min_words=0, max_chars=None,
    )  # fmt: skip
    result = clean(
        [str(p) for p in bad_files.values()], tmp_path / "all.txt", config, show_progress=False
    )
    assert result.output_stories == result.input_stories == 9
    assert all(s.removed == 0 for s in result.steps)


def test_flags_toml_and_typos(tmp_path, bad_files) -> None:
    cfg = tmp_path / "clean.toml"
    cfg.write_text("[clean]\nnear_threshold = 0.99\nquotes = false\nworkers = 1\n")
    config = build_clean_config(cfg, {"quotes": True})
    assert config.near_threshold == 0.99 and config.quotes is True  # flags win over the file
    # At 0.99 the one-word change is no longer a near duplicate.
    result = clean(
        [str(bad_files["good"]), str(bad_files["dups"])],
        tmp_path / "o.txt",
        config,
        show_progress=False,
    )
    assert result.step("near-dup").removed == 0
    cfg.write_text("near_treshold = 0.7\n")
    bad = run_cli(
        "data",
        "clean",
        str(bad_files["good"]),
        "--out",
        str(tmp_path / "x.txt"),
        "--config",
        str(cfg),
    )
    assert bad.returncode == 2
    assert (
        "unknown key 'near_treshold'" in bad.stderr
        and "did you mean 'near_threshold'" in bad.stderr
    )
    flag = run_cli(
        "data",
        "clean",
        str(bad_files["good"]),
        "--out",
        str(tmp_path / "x.txt"),
        "--near-threshold",
        "1.5",
    )
    assert flag.returncode == 2 and "near_threshold must be in (0, 1]" in flag.stderr
    assert not (tmp_path / "x.txt").exists()


def test_chinese_csv_to_simplified_and_script_check(tmp_path, chinese_csv) -> None:
    stories = first_stories(chinese_csv, 40)
    mixed = tmp_path / "mixed.jsonl"
    rows = [{"text": s} for s in stories]
    rows[0]["text"] += "\nTranslated by a machine, please check."  # an English line in Chinese
    rows.append(
        {
            "text": "This whole story is in English and should not be in a Chinese corpus, "
            "so it goes."
        }
    )
    mixed.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    out = tmp_path / "zh.txt"
    result = clean(
        [str(mixed)], out,
        CleanConfig(workers=1, to_simplified=True, script="han", near_dedup=False),
        show_progress=False,
    )  # fmt: skip
    assert result.step("script").removed == 1
    assert result.step("script").modified == 1
    assert result.step("simplified").modified == 40
    text = out.read_text(encoding="utf-8")
    assert "Translated by a machine" not in text
    assert "遠離" not in text and "远离" in text
    assert result.output_stories == 40 - result.step("incomplete").removed


def test_vocabulary_restriction_with_the_synth_word_list(tmp_path) -> None:
    corpus = tmp_path / "synth.txt"
    assert run_cli("data", "synth", "--stories", "200", "--out", str(corpus)).returncode == 0
    vocab = run_cli("data", "synth", "--print-vocab")
    (tmp_path / "vocab.txt").write_text(vocab.stdout)
    odd = write_txt(
        tmp_path / "odd.txt",
        [
            "The quantum physicist calibrated an interferometer while the cat slept on the "
            "warm mat all day long and then went home."
        ],
    )
    result = run_cli(
        "data",
        "clean",
        str(corpus),
        str(odd),
        "--vocab-file",
        str(tmp_path / "vocab.txt"),
        "--out",
        str(tmp_path / "v.txt"),
        "--report",
        str(tmp_path / "v.md"),
        "--no-near-dedup",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "v.json").read_text())
    check_chain(report)
    step = next(s for s in report["steps"] if s["name"] == "vocabulary")
    assert step["removed"] == 1 and "quantum" in step["examples"][0]["why"]
    allowed = set((tmp_path / "vocab.txt").read_text().split())
    assert all(w in allowed for s in read_stories(tmp_path / "v.txt") for w in words(s))
    # Top-N: stories using only the corpus's 800 most frequent words stay.
    top = clean(
        [str(corpus)],
        tmp_path / "t.txt",
        CleanConfig(workers=1, vocab_top=800, near_dedup=False),
        show_progress=False,
    )
    assert 0 < top.step("vocabulary").removed < top.step("vocabulary").entered
    top_words = {w for w, _ in top.top_words}
    assert len(top_words) <= 800


def test_empty_and_all_removed_inputs_fail_cleanly(tmp_path) -> None:
    (tmp_path / "empty.txt").write_bytes(b"")
    with pytest.raises(TinylmError, match="no stories found"):
        clean(
            [str(tmp_path / "empty.txt")],
            tmp_path / "o.txt",
            CleanConfig(workers=1),
            show_progress=False,
        )
    short = write_txt(tmp_path / "short.txt", ["Too short.", "Also short."])
    result = run_cli("data", "clean", str(short), "--out", str(tmp_path / "o.txt"))
    assert result.returncode == 2
    assert "all 2 stories were removed (length 2)" in result.stderr
    assert not (tmp_path / "o.txt").exists()
    assert not list(tmp_path.glob(".tinylm-clean-*"))


def test_minhash_estimates_agree_with_datasketch(tinystories_v1) -> None:
    from datasketch import MinHash

    stories = [words(s) for s in first_stories(tinystories_v1, 40)]
    hasher = MinHasher.create(256, 5, 0.8)

    def shingles(ws: list[str]) -> set[str]:
        return {" ".join(ws[i : i + 5]) for i in range(len(ws) - 4)}

    pairs = [
        (stories[0], [*stories[0][:40], "zebra", *stories[0][41:]]),
        (stories[1], stories[1][:60] + stories[2][:30]),
    ]
    pairs += [(stories[i], stories[i + 1]) for i in range(3, 8)]
    for a, b in pairs:
        sa, sb = hasher.signatures([a, b])
        ours = float((sa == sb).mean())
        A, B = shingles(a), shingles(b)
        true = len(A & B) / len(A | B)
        ma, mb = MinHash(256), MinHash(256)
        ma.update_batch([s.encode() for s in A])
        mb.update_batch([s.encode() for s in B])
        assert abs(ours - true) < 0.1 and abs(ma.jaccard(mb) - true) < 0.1, (ours, true)
    # A batch gives the same signatures as one story at a time.
    batch = hasher.signatures(stories)
    assert np.array_equal(batch[5], hasher.signatures([stories[5]])[0])


@pytest.mark.slow
def test_50_mb_single_line_is_read_and_dropped_by_length(tmp_path, tinystories_v1) -> None:
    huge = tmp_path / "huge.txt"
    unit = "All work and no play makes Jack a dull boy. "
    line = (unit * (50 * 1024 * 1024 // len(unit))).strip()  # ~50 MB, a complete "story"
    huge.write_text(line, encoding="utf-8")  # one line, no newline, no separator
    good = write_txt(tmp_path / "good.txt", first_stories(tinystories_v1, 30))
    out = tmp_path / "o.txt"
    result = run_cli(
        "data", "clean", str(huge), str(good), "--out", str(out), "--report", str(tmp_path / "r.md")
    )
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    check_chain(report)
    length = next(s for s in report["steps"] if s["name"] == "length")
    assert (
        length["removed"] == 1
        and f"{len(line):,} characters > 20,000" in length["examples"][0]["why"]
    )
    assert report["output_stories"] == 30
