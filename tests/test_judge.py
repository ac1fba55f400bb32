"""LLM-as-judge against a real OpenAI-compatible server: `tinylm serve` in its own process.
Its answers are a tiny story model's, so no grade parses: the plumbing is under test (requests,
cache, retries on 429 and 5xx, unreadable answers counted), not the grades."""

from __future__ import annotations

import hashlib
import http.server
import itertools
import json
import threading
import time
import urllib.request
from pathlib import Path
from typing import ClassVar

import pytest
from conftest import run_cli

from tinylm.errors import TinylmError
from tinylm.evalsuite.judge import Judge
from tinylm.gui.browser import free_port, start_tinylm, stop_process, wait_until_up


@pytest.fixture(scope="module")
def judge_server(trained_run, tmp_path_factory) -> str:
    """`tinylm serve` with one generation slot, so a second request at once gets HTTP 429."""
    port = free_port()
    log = tmp_path_factory.mktemp("judge") / "serve.log"
    proc = start_tinylm(["serve", str(trained_run), "--port", str(port), "--max-concurrent", "1"],
                        log)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}/health", proc, log)
        yield base
    finally:
        stop_process(proc)


def test_report_judges_every_completion_then_answers_from_the_cache(
    judge_server, trained_run, en_data, tmp_path
) -> None:
    command = [
        "eval", str(trained_run), "--report", str(tmp_path / "r"), "--data", str(en_data),
        "--prompts", "2", "--samples", "1", "--max-new-tokens", "20", "--no-novelty",
        "--grammar-pairs", "0", "--judge-url", f"{judge_server}/v1",
        "--judge-model", trained_run.name, "--judge-max-tokens", "24",
        "--judge-cache", str(tmp_path / "cache"),
    ]  # fmt: skip
    first = run_cli(*command)
    assert first.returncode == 0, first.stderr
    runs = json.loads((tmp_path / "r" / "results.json").read_text())["runs"]
    model, reference = runs[0]["judge"], runs[1]["judge"]
    assert model["graded"] == 2 and reference["graded"] == 2
    assert model["requests"] == 2 and model["cached"] == 0
    assert model["unparsed"] == 2  # a story model does not write grades, and we say so
    rows = (tmp_path / "r" / "completions.jsonl").read_text().splitlines()
    answers = [json.loads(r)["judge"]["answer"] for r in rows]
    assert len(answers) == 4 and all(isinstance(a, str) and a for a in answers)
    assert "| answers without all grades | 2 | 2 |" in (tmp_path / "r" / "report.md").read_text()
    again = run_cli(*command)
    assert again.returncode == 0, again.stderr
    runs = json.loads((tmp_path / "r" / "results.json").read_text())["runs"]
    assert runs[0]["judge"]["cached"] == 2 and runs[0]["judge"]["requests"] == 0
    rows_again = (tmp_path / "r" / "completions.jsonl").read_text().splitlines()
    assert [json.loads(r)["judge"]["answer"] for r in rows_again] == answers


def test_busy_server_429_is_retried_until_the_slot_frees(judge_server, trained_run, tmp_path):
    judge = Judge(judge_server, trained_run.name, cache_dir=tmp_path, retries=8, backoff_s=0.3,
                  requests_per_minute=600, max_tokens=16)  # fmt: skip
    # Another client holds the only generation slot with a long stream. Eight samples at
    # temperature 2 keep it: the slot frees only when every sample has ended, and a story model
    # that ends its story early (one sample at temperature 1 did, in CI) would free it too soon.
    body = json.dumps({"model": trained_run.name, "prompt": "Once", "max_tokens": 1000, "n": 8,
                       "temperature": 2.0, "stream": True}).encode()  # fmt: skip
    request = urllib.request.Request(f"{judge_server}/v1/completions", data=body,
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    stream = urllib.request.urlopen(request, timeout=60)
    stream.readline()
    result: dict = {}
    worker = threading.Thread(target=lambda: result.update(g=judge.grade("Once upon", "a time")))
    worker.start()
    deadline = time.monotonic() + 60
    while judge.stats.retries == 0 and worker.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    stream.close()  # the other client hangs up: its slot frees
    worker.join(timeout=120)
    grades, answer = result["g"]
    assert judge.stats.retry_reasons[:1] == ["HTTP 429"], "the judge never met the busy slot"
    assert isinstance(answer, str) and not grades.complete and judge.stats.unparsed == 1


class _JudgeProxy(http.server.BaseHTTPRequestHandler):
    """A real HTTP hop in front of the judge (`target`)."""

    target = ""

    def forward(self, body: bytes) -> bytes:
        request = urllib.request.Request(self.target + self.path, data=body,
                                         headers={"Content-Type": "application/json"})  # fmt: skip
        with urllib.request.urlopen(request, timeout=120) as reply:
            return reply.read()

    def reply(self, payload: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args) -> None:
        pass


class _FlakyProxy(_JudgeProxy):
    """Fails the first request with 503."""

    failures: ClassVar[list[int]] = [503]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.failures:
            self.send_response(self.failures.pop(0))
            self.send_header("Retry-After", "0")
            self.end_headers()
            self.wfile.write(b'{"error": {"message": "overloaded"}}')
            return
        self.reply(self.forward(body))


def test_server_error_is_retried_and_wrong_model_is_one_line(judge_server, trained_run, tmp_path):
    _FlakyProxy.target = judge_server
    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FlakyProxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        judge = Judge(f"http://127.0.0.1:{proxy.server_port}/v1", trained_run.name,
                      cache_dir=tmp_path, backoff_s=0.1, max_tokens=8)  # fmt: skip
        _, answer = judge.grade("Once upon", "a time")
        assert judge.stats.retry_reasons == ["HTTP 503"] and answer
    finally:
        proxy.shutdown()
    wrong = Judge(judge_server, "no-such-model", cache_dir=tmp_path, max_tokens=8)
    with pytest.raises(TinylmError, match=r"refused the request \(HTTP 404: .*no-such-model"):
        wrong.grade("Once upon", "a time")


def test_unreachable_judge_fails_before_any_work(trained_run, tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    result = run_cli("eval", str(trained_run), "--report", str(tmp_path / "r"),
                     "--judge-url", url, "--judge-model", "m")  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"tinylm: error: judge unreachable at http://127.0.0.1:{port}/v1/models (Connection "
        "refused); check --judge-url and that the server is up"
    ]
    assert not (tmp_path / "r").exists()


class _SlowJudgeProxy(_JudgeProxy):
    """A judge 0.4 s away (as a remote API is): records when each request arrives and how many
    are in flight, and hands them one at a time to the one-slot `tinylm serve` behind it. It
    tags each answer with a hash of the question, so a test can tell answers apart (the story
    model answers every rubric alike)."""

    lock = threading.Lock()
    one_at_a_time = threading.Lock()
    arrivals: ClassVar[list[float]] = []
    in_flight = 0
    most_in_flight = 0

    def do_POST(self) -> None:
        cls = type(self)
        with cls.lock:
            cls.arrivals.append(time.monotonic())
            cls.in_flight += 1
            cls.most_in_flight = max(cls.most_in_flight, cls.in_flight)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        time.sleep(0.4)
        with cls.one_at_a_time:
            answer = json.loads(self.forward(body))
        answer["choices"][0]["message"]["content"] += " #" + _question_tag(json.loads(body))
        with cls.lock:
            cls.in_flight -= 1
        self.reply(json.dumps(answer).encode())


def _question_tag(body: dict) -> str:
    return hashlib.sha256(body["messages"][0]["content"].encode()).hexdigest()[:12]


def test_workers_judge_concurrently_in_order_within_the_rate_limit(
    judge_server, trained_run, tmp_path
) -> None:
    _SlowJudgeProxy.target = judge_server
    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SlowJudgeProxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    pairs = [(f"Once upon a time {name} went", "to the park.") for name in
             ("Tom", "Lily", "Ben", "Sue", "Max", "Mia", "Sam", "Amy")]  # fmt: skip
    try:
        url = f"http://127.0.0.1:{proxy.server_port}/v1"

        def judge(workers: int, rpm: float, cache: str) -> Judge:
            return Judge(url, trained_run.name, cache_dir=tmp_path / cache, workers=workers,
                         requests_per_minute=rpm, max_tokens=8)  # fmt: skip

        serial = judge(1, 6000, "serial")
        answers = [a for _, a in serial.grade_all(pairs)]
        assert _SlowJudgeProxy.most_in_flight == 1
        done: list[int] = []
        concurrent = judge(4, 6000, "concurrent").grade_all(pairs, lambda: done.append(1))
        # Four requests waited on the judge at once; answers come back in the input's order.
        assert _SlowJudgeProxy.most_in_flight == 4
        assert [a for _, a in concurrent] == answers and len(done) == 8
        tags = [a.rsplit(" #", 1)[1] for a in answers]
        assert tags == [_question_tag(serial.body(*pair)) for pair in pairs]
        _SlowJudgeProxy.arrivals.clear()
        judge(4, 120, "limited").grade_all(pairs[:4])
        gaps = [b - a for a, b in itertools.pairwise(_SlowJudgeProxy.arrivals)]
        assert min(gaps) > 0.45  # 120 per minute: one start each 0.5 s, whatever the workers
    finally:
        proxy.shutdown()


def test_ratings_judge_agreement_goes_through_the_judge(judge_server, trained_run, tmp_path):
    """`eval --ratings --judge-url`: every rated story is sent to the judge once; a story model
    writes no grades, so no pair can be compared, and the table says so."""
    from tinylm.ratings import append_rating

    path = tmp_path / "ratings.jsonl"
    for i, choice in enumerate(("a", "b", "tie")):
        append_rating(path, {"rater": "ann", "prompt": "Once upon a time", "run_a": "x",
                             "run_b": "y", "story_a": f"Once upon a time {i} a", "seed": i,
                             "story_b": f"Once upon a time {i} b", "choice": choice})  # fmt: skip
    result = run_cli(
        "eval", "--ratings", str(path), "--judge-url", f"{judge_server}/v1",
        "--judge-model", trained_run.name, "--judge-max-tokens", "16",
        "--judge-cache", str(tmp_path / "cache"), "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    agreement = json.loads(result.stdout)["judge_agreement"]
    assert agreement == {"compared": 0, "agree": 0, "rate": None, "not_compared": 2}
    cached = list((tmp_path / "cache").rglob("*.json"))
    assert len(cached) == 6  # six distinct stories, each graded once
