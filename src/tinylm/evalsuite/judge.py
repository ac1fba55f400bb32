"""LLM-as-judge with the TinyStories paper's rubric, over any OpenAI-compatible endpoint
(OpenAI, vLLM, llama.cpp server, Ollama, `tinylm serve`).

The judge sees the story beginning, a `***` separator and the model's completion, and grades
grammar, creativity, consistency with the beginning and plot (each out of 10) and guesses the
writer's age group (A: 3 or under ... F: 13-16), as in Eldan & Li (2023), section 3.

Plumbing a long evaluation needs: the key from an environment variable, several requests in
flight at once (a judge's latency, not its throughput, is what makes a serial evaluation slow),
retries with exponential backoff on 429/5xx/connection errors (honouring Retry-After), a
requests-per-minute limit shared by all of them, an on-disk cache (the same prompt to the same
model is never paid for twice), and parsing that accepts the many ways models write grades;
answers it cannot read are counted and kept, never silently dropped.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinylm.errors import TinylmError
from tinylm.fileio import atomic_write_json, tinylm_cache

KEY_ENV_VARS = ("TINYLM_JUDGE_API_KEY", "OPENAI_API_KEY")
CATEGORIES = ("grammar", "creativity", "consistency", "plot")
AGE_GROUPS = {"A": "3 or under", "B": "4-5", "C": "6-7", "D": "8-9", "E": "10-12", "F": "13-16"}
RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}

RUBRIC = """In the following exercise, the student is given a beginning of a story. The student \
needs to complete it into a full story. The exercise tests the student's language abilities and \
creativity. The symbol *** marks the separator between the prescribed beginning and the \
student's completion:

{beginning}***{completion}

Please provide your general assessment about the part written by the student (the one after the \
*** symbol). Is it grammatically correct? Is it consistent with the beginning of the story? Pay \
special attention to whether the student manages to complete the sentence which is split in the \
middle by the separator ***.

Now, grade the student's completion in terms of grammar, creativity, consistency with the \
story's beginning and whether the plot makes sense, each from 1 to 10. Moreover, please provide \
your best guess of what the age of the student might be, as reflected from the completion. \
Choose from possible age groups: A: 3 or under. B: 4-5. C: 6-7. D: 8-9. E: 10-12. F: 13-16.

End your answer with exactly these five lines:
Grammar: N/10
Creativity: N/10
Consistency: N/10
Plot: N/10
Age group: X"""

_NUMBER = r"(\d+(?:\.\d+)?)"
_GRADE = {
    c: re.compile(
        rf"{c}[a-z ]*?\**\s*[:=\-–]?\s*\**\s*{_NUMBER}\s*(?:/\s*10|out of 10|of 10)?", re.I
    )
    for c in CATEGORIES
}
_AGE = re.compile(r"age[ _-]*(?:group)?\**\s*[:=\-–]?\s*\**\s*\(?([A-F])\b(?![a-z])", re.I)


@dataclass
class Grades:
    grammar: float | None = None
    creativity: float | None = None
    consistency: float | None = None
    plot: float | None = None
    age_group: str | None = None

    @property
    def complete(self) -> bool:
        return all(getattr(self, c) is not None for c in CATEGORIES) and self.age_group is not None


def parse_grades(answer: str) -> Grades:
    """The grades in a judge's answer: 'Grammar: 8/10', '**Plot**: 7 out of 10', 'plot = 7',
    a JSON object, 'Age group: C' or 'C: 6-7'. The last mention wins (answers often discuss a
    grade before giving it); a grade outside 1..10 is not a grade."""
    grades = Grades()
    try:
        data = json.loads(answer[answer.index("{") : answer.rindex("}") + 1])
        if isinstance(data, dict):
            lowered = {str(k).lower().replace("_", " "): v for k, v in data.items()}
            for c in CATEGORIES:
                value = lowered.get(c)
                if isinstance(value, int | float) and 1 <= value <= 10:
                    setattr(grades, c, float(value))
            age = str(lowered.get("age group", lowered.get("age", ""))).strip()[:1].upper()
            grades.age_group = age if age in AGE_GROUPS else None
    except ValueError:
        pass
    for c in CATEGORIES:
        values = [float(m.group(1)) for m in _GRADE[c].finditer(answer)]
        values = [v for v in values if 1 <= v <= 10]
        if values:
            setattr(grades, c, values[-1])
    ages = _AGE.findall(answer)
    if ages:
        grades.age_group = ages[-1].upper()
    elif grades.age_group is None:
        # "... the student is probably in group C: 6-7."
        spelled = re.findall(r"\b([A-F]):\s*(?:3 or under|\d+-\d+)", answer)
        if len(set(spelled)) == 1:
            grades.age_group = spelled[0]
    return grades


def chat_url(base: str) -> str:
    base = base.rstrip("/")
    if base.endswith("/chat/completions"):
        return base
    return base + "/chat/completions" if base.endswith("/v1") else base + "/v1/chat/completions"


def default_cache_dir() -> Path:
    return tinylm_cache("judge")


@dataclass
class JudgeStats:
    requests: int = 0
    cached: int = 0
    retries: int = 0
    unparsed: int = 0
    retry_reasons: list[str] = field(default_factory=list)


class Judge:
    def __init__(
        self,
        url: str,
        model: str,
        key_env: str | None = None,
        cache_dir: Path | None = None,
        requests_per_minute: float = 60.0,
        retries: int = 5,
        backoff_s: float = 1.0,
        timeout_s: float = 120.0,
        max_tokens: int = 400,
        workers: int = 4,
    ) -> None:
        self.url = chat_url(url)
        self.model = model
        names = (key_env,) if key_env else KEY_ENV_VARS
        self.key = next((os.environ[n] for n in names if os.environ.get(n)), None)
        self.key_names = names
        self.cache_dir = cache_dir or default_cache_dir()
        self.min_interval = 60.0 / requests_per_minute if requests_per_minute > 0 else 0.0
        self.retries = retries
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self.max_tokens = max_tokens
        self.workers = workers
        self.stats = JudgeStats()
        self._next_slot = 0.0  # monotonic time before which no request may start
        self._lock = threading.Lock()  # guards _next_slot and stats across workers

    def preflight(self) -> None:
        """Fail at once, before hours of sampling, when nothing listens at the judge's URL.
        Only a connection failure counts: servers differ in what GET /models answers."""
        models = self.url.removesuffix("/chat/completions") + "/models"
        headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        try:
            with urllib.request.urlopen(
                urllib.request.Request(models, headers=headers), timeout=30
            ):
                pass
        except urllib.error.HTTPError:
            pass
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            reason = _why(exc)
            raise TinylmError(
                f"judge unreachable at {models} ({reason}); check --judge-url and that the "
                "server is up"
            ) from None

    def body(self, beginning: str, completion: str) -> dict[str, Any]:
        prompt = RUBRIC.format(beginning=beginning.rstrip(), completion=" " + completion.strip())
        return {
            "model": self.model,
            "messages": [{"role": "user", "content": prompt}],
            "temperature": 0,
            "max_tokens": self.max_tokens,
        }

    def grade(self, beginning: str, completion: str) -> tuple[Grades, str]:
        """(grades, the judge's raw answer) for one completion."""
        answer = self.ask(self.body(beginning, completion))
        grades = parse_grades(answer)
        if not grades.complete:
            self._count("unparsed")
        return grades, answer

    def grade_all(
        self,
        pairs: list[tuple[str, str]],
        on_done: Callable[[], None] | None = None,
    ) -> list[tuple[Grades, str]]:
        """grade() for each (beginning, completion), `workers` requests in flight, results in
        input order. The first error stops the rest and is raised."""

        def one(pair: tuple[str, str]) -> tuple[Grades, str]:
            result = self.grade(*pair)
            if on_done is not None:
                with self._lock:  # progress counters are not thread-safe
                    on_done()
            return result

        if self.workers <= 1 or len(pairs) <= 1:
            return [one(pair) for pair in pairs]
        with ThreadPoolExecutor(self.workers, thread_name_prefix="judge") as pool:
            futures = [pool.submit(one, pair) for pair in pairs]
            try:
                return [f.result() for f in futures]
            except BaseException:
                for f in futures:
                    f.cancel()
                raise

    def _count(self, stat: str, reason: str | None = None) -> None:
        with self._lock:
            setattr(self.stats, stat, getattr(self.stats, stat) + 1)
            if reason is not None:
                self.stats.retry_reasons.append(reason)

    def _wait_for_slot(self) -> None:
        """Spaces request starts `min_interval` apart across all workers."""
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next_slot)
            self._next_slot = start + self.min_interval
        if start > now:
            time.sleep(start - now)

    def ask(self, body: dict[str, Any]) -> str:
        key = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        cached = self.cache_dir / key[:2] / f"{key}.json"
        if cached.is_file():
            try:
                answer = json.loads(cached.read_text(encoding="utf-8"))["answer"]
                self._count("cached")
                return answer
            except (json.JSONDecodeError, KeyError, UnicodeDecodeError):
                pass  # a damaged entry is asked again and rewritten
        answer = self._post(body)
        atomic_write_json(cached, {"model": self.model, "answer": answer})
        return answer

    def _post(self, body: dict[str, Any]) -> str:
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        for attempt in range(self.retries + 1):
            self._wait_for_slot()
            self._count("requests")
            request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    return _answer_text(json.loads(response.read()), self.url)
            except urllib.error.HTTPError as exc:
                message = _error_message(exc)
                if exc.code not in RETRY_STATUS:
                    hint = ""
                    if exc.code in (401, 403):
                        hint = f"; set {' or '.join(self.key_names)} to a valid key"
                    raise TinylmError(
                        f"the judge at {self.url} refused the request (HTTP {exc.code}: "
                        f"{message}){hint}"
                    ) from None
                reason = f"HTTP {exc.code}"
                retry_after = _retry_after(exc)
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                reason = _why(exc)
                retry_after = None
            if attempt == self.retries:
                raise TinylmError(
                    f"judge unreachable at {self.url} after {attempt + 1} attempts ({reason}); "
                    "check --judge-url and that the server is up"
                )
            self._count("retries", reason)
            delay = self.backoff_s * 2**attempt * (1 + 0.25 * random.random())
            time.sleep(min(60.0, retry_after if retry_after is not None else delay))
        raise AssertionError("unreachable")


def _why(exc: Exception) -> str:
    """'Connection refused', not '[Errno 111] Connection refused'."""
    reason = getattr(exc, "reason", exc)
    return getattr(reason, "strerror", None) or str(reason)


def _answer_text(reply: Any, url: str) -> str:
    try:
        content = reply["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise TinylmError(
            f"the judge at {url} did not answer like an OpenAI chat endpoint "
            "(no choices[0].message.content); check --judge-url"
        ) from None
    return content if isinstance(content, str) else ""


def _error_message(exc: urllib.error.HTTPError) -> str:
    try:
        payload = json.loads(exc.read() or b"{}")
        return str(payload.get("error", {}).get("message") or exc.reason)
    except (json.JSONDecodeError, AttributeError, OSError):
        return str(exc.reason)


def _retry_after(exc: urllib.error.HTTPError) -> float | None:
    value = exc.headers.get("Retry-After") if exc.headers else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
