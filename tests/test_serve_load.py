"""A short load test of a real `tinylm serve` process: many concurrent clients (plain, chat,
streamed and seeded requests), some hanging up mid-stream or before the reply, and oversized or
garbage requests. The server must stay up, give every well-formed request the same reply it gives
on a quiet server (or "busy" 429, which the clients retry), answer every bad one with the right
OpenAI error object, and have all its generation slots free afterwards.

The default suite runs a small load; the slow test a larger one. Both print their numbers.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tinylm.gui.browser import free_port, start_tinylm, stop_process, wait_until_up

PROMPTS = ["Once upon a time", "Tom and Lily went to the park.", "The little dog"]
MAX_TOKENS = 24  # per well-formed request
SERVER_MAX_TOKENS = 64
SERVER_MAX_PROMPT = 2000
MAX_CONCURRENT = 2
KINDS = ("completion", "chat", "stream", "seeded")


@dataclass
class Load:
    clients: int  # each sends `requests` well-formed requests, retrying on 429
    requests: int
    hang_ups: int  # clients that drop a stream after its first event
    early_hang_ups: int  # clients that send a request and close the socket at once
    garbage_rounds: int  # rounds of every bad request in BAD_REQUESTS (and raw garbage bytes)


@dataclass
class Report:
    answered: int = 0
    busy: int = 0
    hang_ups: int = 0
    bad: Counter = field(default_factory=Counter)  # status -> count
    latencies: list[float] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    def summary(self) -> str:
        lat = sorted(self.latencies)
        p50 = statistics.median(lat) if lat else 0.0
        p95 = lat[int(0.95 * (len(lat) - 1))] if lat else 0.0
        bad = ", ".join(f"{status}: {count}" for status, count in sorted(self.bad.items()))
        return (
            f"{self.answered} replies correct ({p50:.2f} s median, {p95:.2f} s p95 from first "
            f"try to reply), {self.busy} busy (429) retried, {self.hang_ups} hang-ups, "
            f"bad requests answered {{{bad}}}, {self.wall_s:.1f} s wall"
        )


def _body(kind: str, prompt_index: int) -> tuple[str, dict]:
    prompt = PROMPTS[prompt_index]
    body: dict = {"model": "tiny", "max_tokens": MAX_TOKENS, "temperature": 0}
    if kind == "chat":
        body["messages"] = [{"role": "user", "content": prompt}]
        return "/v1/chat/completions", body
    body["prompt"] = prompt
    if kind == "stream":
        body["stream"] = True
    if kind == "seeded":
        body.update(temperature=1.0, seed=100 + prompt_index)
    return "/v1/completions", body


async def _ask(client: httpx.AsyncClient, kind: str, prompt_index: int) -> tuple[int, str]:
    """(status, reply text) of one request; a stream's text is its deltas joined, checked to
    end with a finish reason and [DONE]."""
    route, body = _body(kind, prompt_index)
    if kind != "stream":
        response = await client.post(route, json=body)
        if response.status_code != 200:
            return response.status_code, response.text
        choice = response.json()["choices"][0]
        return 200, choice["message"]["content"] if kind == "chat" else choice["text"]
    async with client.stream("POST", route, json=body) as response:
        if response.status_code != 200:
            return response.status_code, (await response.aread()).decode()
        events = [line[6:] async for line in response.aiter_lines() if line.startswith("data: ")]
    if events[-1] != "[DONE]":
        return 200, f"<stream did not end with [DONE]: {events[-3:]}>"
    choices = [c for e in events[:-1] for c in json.loads(e)["choices"]]
    if not any(c["finish_reason"] for c in choices):
        return 200, "<stream without a finish_reason>"
    return 200, "".join(c["text"] for c in choices)


async def _references(client: httpx.AsyncClient) -> dict[tuple[str, int], str]:
    """What the quiet server answers to each request: the load must not change a token."""
    refs = {}
    for kind in KINDS:
        for p in range(len(PROMPTS)):
            status, text = await _ask(client, kind, p)
            assert status == 200, text
            refs[kind, p] = text
    # A streamed reply is the same story as the whole one.
    assert all(refs["stream", p] == refs["completion", p] for p in range(len(PROMPTS)))
    return refs


async def _well_formed_client(
    base: str, n: int, seed: int, refs: dict[tuple[str, int], str], report: Report
) -> None:
    rng = random.Random(seed)
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        for _ in range(n):
            kind, p = rng.choice(KINDS), rng.randrange(len(PROMPTS))
            start = time.monotonic()
            while True:
                status, text = await _ask(client, kind, p)
                if status != 429:
                    break
                report.busy += 1
                await asyncio.sleep(rng.uniform(0.02, 0.2))
            report.latencies.append(time.monotonic() - start)
            if status != 200 or text != refs[kind, p]:
                report.wrong.append(f"{kind} {PROMPTS[p]!r}: {status} {text[:200]!r}")
            else:
                report.answered += 1


async def _hang_up_mid_stream(base: str, report: Report) -> None:
    body = {"model": "tiny", "prompt": PROMPTS[0], "max_tokens": SERVER_MAX_TOKENS, "stream": True}
    rng = random.Random(len(body))
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        while True:  # retry while busy: the point is to hang up on a running stream
            async with client.stream("POST", "/v1/completions", json=body) as response:
                if response.status_code == 429:
                    await asyncio.sleep(rng.uniform(0.02, 0.2))
                    continue
                async for line in response.aiter_lines():
                    if line.startswith("data: "):
                        break  # leaving the block closes the connection mid-stream
                report.hang_ups += 1
                return


async def _hang_up_at_once(host: str, port: int, report: Report) -> None:
    body = json.dumps({"model": "tiny", "prompt": PROMPTS[1], "max_tokens": 32}).encode()
    head = (
        f"POST /v1/completions HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    _, writer = await asyncio.open_connection(host, port)
    writer.write(head + body)
    await writer.drain()
    writer.close()
    report.hang_ups += 1


def _chunks(total: int):
    async def gen():
        for _ in range(total // 65536 + 1):
            yield b"x" * 65536

    return gen()


# (what, request kwargs for httpx, expected status)
BAD_REQUESTS: list[tuple[str, dict, int]] = [
    ("random bytes", {"content": bytes(range(256)) * 8}, 400),
    ("not JSON", {"content": b"{'model': tiny"}, 400),
    ("a JSON list", {"json": [1, 2, 3]}, 400),
    ("wrong types", {"json": {"model": 5, "prompt": {"a": 1}}}, 400),
    ("no model", {"json": {"prompt": "Hi"}}, 400),
    ("unknown model", {"json": {"model": "nope", "prompt": "Hi"}}, 404),
    ("prompt over the limit", {"json": {"model": "tiny", "prompt": "a" * 50_000}}, 400),
    ("max_tokens over the limit", {"json": {"model": "tiny", "max_tokens": 10**9}}, 400),
    ("n over the limit", {"json": {"model": "tiny", "prompt": "Hi", "n": 1000}}, 400),
    ("temperature out of range", {"json": {"model": "tiny", "temperature": -3}}, 400),
    ("body over 1 MB", {"content": b"{" + b" " * (2 << 20) + b"}"}, 413),
]


async def _garbage(base: str, host: str, port: int, report: Report) -> None:
    headers = {"Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=base, timeout=120, headers=headers) as client:
        for what, kwargs, expected in BAD_REQUESTS:
            response = await client.post("/v1/completions", **kwargs)
            _check_error(what, response, expected, report)
        # No Content-Length: the limit must hold while the body is read, not only by header.
        response = await client.post("/v1/completions", content=_chunks(3 << 20))
        _check_error("chunked body over 1 MB", response, 413, report)
        response = await client.get("/v1/completions")
        _check_error("GET on a POST route", response, 405, report)
    # Not HTTP at all: the server may close or answer 400, but must not fall over.
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(os.urandom(4096) + b"\r\n\r\n")
    await writer.drain()
    try:
        reply = await asyncio.wait_for(reader.read(200), timeout=30)
    except ConnectionResetError:  # closed with our garbage unread: a reset, not a crash
        reply = b""
    assert reply == b"" or reply.startswith(b"HTTP/1.1 400"), reply
    writer.close()
    report.bad["not HTTP"] += 1


def _check_error(what: str, response: httpx.Response, expected: int, report: Report) -> None:
    try:
        error = response.json()["error"]
        ok = response.status_code == expected and isinstance(error["message"], str)
    except (ValueError, KeyError, TypeError):
        ok = False
    if ok:
        report.bad[str(response.status_code)] += 1
    else:
        report.wrong.append(f"{what}: expected {expected}, got {response.status_code}")


async def _run_load(base: str, port: int, load: Load) -> Report:
    report = Report()
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        refs = await _references(client)
    start = time.monotonic()
    tasks = [_well_formed_client(base, load.requests, c, refs, report) for c in range(load.clients)]
    tasks += [_hang_up_mid_stream(base, report) for _ in range(load.hang_ups)]
    tasks += [_hang_up_at_once("127.0.0.1", port, report) for _ in range(load.early_hang_ups)]
    tasks += [_garbage(base, "127.0.0.1", port, report) for _ in range(load.garbage_rounds)]
    random.Random(0).shuffle(tasks)
    await asyncio.gather(*tasks)
    report.wall_s = time.monotonic() - start
    return report


async def _all_slots_free(base: str, timeout: float = 30.0) -> bool:
    """MAX_CONCURRENT requests at once all get an answer (none is busy) within `timeout`."""
    body = {"model": "tiny", "prompt": "Hi", "max_tokens": 1}
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        while time.monotonic() < deadline:
            calls = [client.post("/v1/completions", json=body) for _ in range(MAX_CONCURRENT)]
            if all(r.status_code == 200 for r in await asyncio.gather(*calls)):
                return True
            await asyncio.sleep(0.2)
    return False


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _load_test(trained_run: Path, tmp_path: Path, load: Load) -> None:
    assert trained_run.name == "tiny"  # the model id is the folder name
    port = free_port()
    log = tmp_path / "serve.log"
    limits = ["--max-tokens", str(SERVER_MAX_TOKENS), "--max-prompt-chars", str(SERVER_MAX_PROMPT)]
    limits += ["--max-concurrent", str(MAX_CONCURRENT)]
    proc = start_tinylm(["serve", str(trained_run), "--port", str(port), *limits], log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}/health", proc, log)
        rss_before = _rss_mb(proc.pid)
        report = asyncio.run(_run_load(base, port, load))
        rss_after = _rss_mb(proc.pid)
        print(f"\nload {load}: {report.summary()}")
        print(f"server memory {rss_before:.0f} MB -> {rss_after:.0f} MB")
        assert proc.poll() is None, log.read_text()
        # Flat memory: 64 x 6 requests measured 256 -> 269 MB (the first requests' warm-up).
        assert rss_after - rss_before < 64, f"server memory {rss_before:.0f} -> {rss_after:.0f} MB"
        assert not report.wrong, "\n".join(report.wrong[:20])
        assert report.answered == load.clients * load.requests
        assert report.hang_ups == load.hang_ups + load.early_hang_ups
        expected_bad = load.garbage_rounds * (len(BAD_REQUESTS) + 3)
        assert sum(report.bad.values()) == expected_bad
        assert report.busy > 0  # more clients than slots: the limit was reached, and held
        assert asyncio.run(_all_slots_free(base)), "a generation slot stayed taken after the load"
        assert "Traceback" not in log.read_text()
    finally:
        stop_process(proc)


def test_server_under_a_small_load_stays_up_and_answers_correctly(trained_run, tmp_path) -> None:
    _load_test(
        trained_run,
        tmp_path,
        Load(clients=16, requests=3, hang_ups=6, early_hang_ups=4, garbage_rounds=1),
    )


@pytest.mark.slow
def test_server_under_a_heavy_load_stays_up_and_answers_correctly(trained_run, tmp_path) -> None:
    # 200 concurrent clients, as the reliability issue asks; on 2 cores with 2 generation
    # slots this keeps the server saturated for well over a minute.
    _load_test(
        trained_run,
        tmp_path,
        Load(clients=200, requests=3, hang_ups=60, early_hang_ups=40, garbage_rounds=5),
    )


def test_gui_under_concurrent_users_stays_up_and_writes_correct_stories(
    trained_run, tmp_path
) -> None:
    """The GUI's Generate through Gradio's own API, as many browser tabs would call it at once:
    every story is what the library writes with the same settings (busy users retry), names
    outside the runs folder are refused, the process stays up and its memory stays flat."""
    from concurrent.futures import ThreadPoolExecutor

    from gradio_client import Client
    from gradio_client.exceptions import AppError

    from tinylm.run import load_run

    runs = tmp_path / "runs"
    shutil.copytree(trained_run, runs / "tiny")
    port = free_port()
    log = tmp_path / "gui.log"
    args = ["gui", "--runs", str(runs), "--data", str(tmp_path / "data"), "--port", str(port)]
    proc = start_tinylm([*args, "--max-concurrent", str(MAX_CONCURRENT)], log)
    url = f"http://127.0.0.1:{port}/"
    users, requests = 24, 3
    lm = load_run(trained_run)
    settings = (0.8, 0, 0.95, MAX_TOKENS)  # temperature, top-k, top-p, max tokens

    def expected(p: int, seed: int) -> str:
        options = dict(temperature=0.8, top_p=0.95, max_new_tokens=MAX_TOKENS, seed=seed)
        return lm.generate(PROMPTS[p], **options)

    def user(u: int) -> tuple[int, int, list[str]]:
        client = Client(url, verbose=False)
        rng = random.Random(u)
        correct, busy, wrong = 0, 0, []
        for _ in range(requests):
            p, seed = rng.randrange(len(PROMPTS)), rng.randrange(1000)
            while True:
                story, status = client.predict(
                    "tiny", PROMPTS[p], "", [], "", *settings, str(seed), api_name="/generate"
                )
                if "busy" not in status:
                    break
                busy += 1
                time.sleep(rng.uniform(0.05, 0.3))
            if story == expected(p, seed):
                correct += 1
            else:
                wrong.append(f"seed {seed} {PROMPTS[p]!r}: {story[:120]!r} / {status[:120]!r}")
        with pytest.raises(AppError):  # a path out of the runs folder is never a choice
            client.predict("../tiny", "x", "", [], "", *settings, "1", api_name="/generate")
        return correct, busy, wrong

    try:
        wait_until_up(url, proc, log)
        user(-1)  # warm: the model loads once
        rss_before = _rss_mb(proc.pid)
        start = time.monotonic()
        with ThreadPoolExecutor(users) as pool:
            results = list(pool.map(user, range(users)))
        wall = time.monotonic() - start
        rss_after = _rss_mb(proc.pid)
        correct = sum(r[0] for r in results)
        busy = sum(r[1] for r in results)
        print(f"\nGUI: {users} users x {requests}: {correct} correct, {busy} busy retried, "
              f"{wall:.1f} s; memory {rss_before:.0f} -> {rss_after:.0f} MB")  # fmt: skip
        assert proc.poll() is None, log.read_text()
        assert [w for r in results for w in r[2]] == []
        assert correct == users * requests
        # No leak that grows with the requests: Gradio keeps a little per event, and how many
        # "busy" retries a run makes depends on the machine's speed (measured: 96 requests
        # 419 -> 481 MB, 904 requests 429 -> 545 MB); a leaked KV cache or story per request
        # would be megabytes each.
        asked = correct + busy + users + 1
        assert rss_after - rss_before < 100 + 0.25 * asked, (rss_before, rss_after, asked)
        # Gradio itself prints a traceback for each value a dropdown never offered (the
        # refused "../tiny" above); nothing else may have failed.
        text = log.read_text()
        assert text.count("Traceback") == text.count("is not in the list of choices") == users + 1
    finally:
        stop_process(proc)
