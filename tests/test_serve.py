"""`tinylm serve`: a real server process, driven by the official `openai` client."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import openai
import pytest
from conftest import run_cli

from tinylm.gui.browser import free_port, start_tinylm, stop_process, wait_until_up
from tinylm.run import load_run
from tinylm.serve.engine import Engine, StopMatcher
from tinylm.serve.limits import Limits
from tinylm.serve.openai_api import create_app, served_models

PROMPT = "Once upon a time"
MAX_TOKENS = 200
MAX_PROMPT = 500


@pytest.fixture(scope="session")
def server(trained_run, tmp_path_factory) -> str:
    """`tinylm serve RUN` on a free port; yields its base URL."""
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    limits = ["--max-tokens", str(MAX_TOKENS), "--max-prompt-chars", str(MAX_PROMPT)]
    proc = start_tinylm(["serve", str(trained_run), "--port", str(port), *limits], log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}/health", proc, log)
        yield base
    finally:
        stop_process(proc)


def client(base: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base}/v1", api_key="not-needed", max_retries=0, timeout=120)


def test_models_lists_the_served_run(server, trained_run) -> None:
    models = client(server).models.list()
    assert [m.id for m in models.data] == [trained_run.name]
    assert models.data[0].owned_by == "tinylm"


def test_completion_is_what_the_library_writes_with_usage_counts(server, trained_run) -> None:
    lm = load_run(trained_run)
    reply = client(server).completions.create(
        model=trained_run.name, prompt=PROMPT, max_tokens=12, temperature=0
    )
    choice = reply.choices[0]
    assert PROMPT + choice.text == lm.generate(PROMPT, max_new_tokens=12, temperature=0)
    assert reply.usage.prompt_tokens == len(lm.tokenizer.encode(PROMPT, bos=True))
    assert choice.finish_reason == "length" and reply.usage.completion_tokens == 12
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + 12


def test_seed_makes_samples_reproducible_and_n_gives_several(server, trained_run) -> None:
    c = client(server)
    ask = dict(model=trained_run.name, prompt=PROMPT, max_tokens=30, temperature=1.0, n=3)
    first = c.completions.create(seed=7, **ask)
    again = c.completions.create(seed=7, **ask)
    other = c.completions.create(seed=8, **ask)
    texts = [ch.text for ch in first.choices]
    assert [ch.index for ch in first.choices] == [0, 1, 2]
    assert texts == [ch.text for ch in again.choices]
    assert len(set(texts)) == 3  # three different samples, not one copied
    assert texts != [ch.text for ch in other.choices]
    if all(ch.finish_reason == "length" for ch in first.choices):
        assert first.usage.completion_tokens == 3 * 30  # summed over the samples
    else:
        assert 0 < first.usage.completion_tokens < 3 * 30


def _long_reply(c: openai.OpenAI, ask: dict, chars: int) -> tuple[dict, str]:
    """The first of a few seeds whose reply has at least `chars` characters: a small story
    model may end its story early at any seed, and the tests below need text to work on."""
    for seed in range(20):
        text = c.completions.create(seed=seed, **ask).choices[0].text
        if len(text) >= chars:
            return {**ask, "seed": seed}, text
    raise AssertionError(f"no seed in 0..19 gives a reply of {chars} characters")


def test_stop_string_cuts_the_reply_streamed_or_not(server, trained_run) -> None:
    c = client(server)
    base = dict(model=trained_run.name, prompt=PROMPT, max_tokens=60, temperature=0.8)
    ask, full = _long_reply(c, base, 40)
    stop = full[20:24]
    expected = full[: full.find(stop)]
    cut = c.completions.create(stop=[stop], **ask).choices[0]
    assert cut.text == expected and cut.finish_reason == "stop"
    chunks = list(c.completions.create(stop=stop, stream=True, **ask))
    assert "".join(ch.choices[0].text for ch in chunks if ch.choices) == expected
    assert stop not in "".join(ch.choices[0].text for ch in chunks if ch.choices)


def test_streaming_sends_the_same_story_in_pieces_with_usage(server, trained_run) -> None:
    c = client(server)
    base = dict(model=trained_run.name, prompt=PROMPT, max_tokens=40, temperature=0.9)
    ask, _ = _long_reply(c, base, 40)
    whole = c.completions.create(**ask)
    chunks = list(c.completions.create(stream=True, stream_options={"include_usage": True}, **ask))
    pieces = [ch.choices[0].text for ch in chunks if ch.choices]
    assert "".join(pieces) == whole.choices[0].text
    assert len([p for p in pieces if p]) > 5  # it arrived in many events, not one
    reasons = [ch.choices[0].finish_reason for ch in chunks if ch.choices]
    assert [r for r in reasons if r] == [whole.choices[0].finish_reason]
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens


def test_chat_continues_the_last_user_message(server, trained_run) -> None:
    c = client(server)
    messages = [
        {"role": "system", "content": "You are a storyteller."},
        {"role": "user", "content": "Tom had a red ball."},
        {"role": "assistant", "content": "He played with it."},
        {"role": "user", "content": PROMPT},
    ]
    ask = dict(model=trained_run.name, max_tokens=30, temperature=0.7, seed=5)
    chat = c.chat.completions.create(messages=messages, **ask)
    plain = c.completions.create(prompt=PROMPT, **ask)
    assert chat.choices[0].message.role == "assistant"
    assert chat.choices[0].message.content == plain.choices[0].text
    assert chat.usage.prompt_tokens == plain.usage.prompt_tokens
    stream = list(c.chat.completions.create(messages=messages, stream=True, **ask))
    assert stream[0].choices[0].delta.role == "assistant"
    text = "".join(ch.choices[0].delta.content or "" for ch in stream if ch.choices)
    assert text == plain.choices[0].text
    assert stream[-1].choices[0].finish_reason == plain.choices[0].finish_reason


def test_bad_requests_get_openai_error_objects(server, trained_run) -> None:
    c = client(server)
    name = trained_run.name
    with pytest.raises(openai.BadRequestError) as bad:
        c.completions.create(model=name, prompt=PROMPT, temperature=5)
    assert bad.value.param == "temperature"
    with pytest.raises(openai.BadRequestError) as bad:
        c.completions.create(model=name, prompt=PROMPT, max_tokens=MAX_TOKENS + 1)
    assert f"limit of {MAX_TOKENS}" in bad.value.message
    with pytest.raises(openai.BadRequestError) as bad:
        c.completions.create(model=name, prompt="x" * (MAX_PROMPT + 1))
    assert "characters" in bad.value.message
    with pytest.raises(openai.BadRequestError):
        c.completions.create(model=name, prompt=PROMPT, logprobs=2)
    with pytest.raises(openai.BadRequestError) as bad:
        c.chat.completions.create(model=name, messages=[{"role": "system", "content": "hi"}])
    assert "role 'user'" in bad.value.message
    with pytest.raises(openai.NotFoundError) as missing:
        c.completions.create(model="gpt-4", prompt=PROMPT)
    assert missing.value.code == "model_not_found"
    for body, status in ((b"{not json", 400), (b'{"prompt": "x"}', 400)):
        request = urllib.request.Request(
            f"{server}/v1/completions", data=body, headers={"Content-Type": "application/json"}
        )
        with pytest.raises(urllib.error.HTTPError) as http:
            urllib.request.urlopen(request, timeout=30)
        assert http.value.code == status
        error = json.loads(http.value.read())["error"]
        assert error["type"] == "invalid_request_error" and error["message"]


def _in_process_server(trained_run, limits: Limits) -> tuple[str, Engine, object, threading.Thread]:
    import uvicorn

    engine = Engine(limits=limits)
    app = create_app(served_models([str(trained_run)], engine), engine)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", engine, server, thread


def test_busy_server_answers_429_and_a_hung_up_stream_frees_its_slot(trained_run) -> None:
    base, engine, server, thread = _in_process_server(trained_run, Limits(max_concurrent=1))
    c = client(base)
    ask = dict(model=trained_run.name, prompt=PROMPT, max_tokens=200, temperature=1.0)
    try:
        held = engine.reserve()  # another generation holds the only slot
        with pytest.raises(openai.RateLimitError) as busy:
            c.completions.create(**ask)
        assert busy.value.status_code == 429 and "busy" in busy.value.message
        held.release()
        assert c.completions.create(**ask).choices[0].text
        # A client that hangs up mid-stream must not keep the slot.
        stream = c.completions.create(stream=True, **ask)
        next(iter(stream))
        stream.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                engine.reserve().release()
                break
            except Exception:
                time.sleep(0.1)
        else:
            pytest.fail("the slot of a closed stream was never released")
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_serve_refuses_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    result = run_cli("serve", str(tmp_path / "missing"), "--port", "0")
    assert result.returncode == 2
    assert result.stderr.strip() == f"tinylm: error: run folder not found: {tmp_path / 'missing'}"


def test_stop_matcher_holds_back_a_possible_stop_string() -> None:
    m = StopMatcher(["THE END"])
    out = [m.push(p) for p in ["Once", " upon THE", " E", "ND and more"]]
    assert out == ["Once", " upon ", "", ""] and m.hit
    assert "".join(out) == "Once upon "
    quiet = StopMatcher(["zzz"])
    assert quiet.push("ab z") == "ab " and quiet.flush() == "z"
