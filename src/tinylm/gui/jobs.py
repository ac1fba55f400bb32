"""Background training for the GUI: start, stop, resume and watch `tinylm train` runs.

A job is a list of real `tinylm` commands (write built-in stories, prepare data, train) that a
detached runner (`tinylm.gui.job_runner`) executes; its record is RUN/job.json and its output
RUN/train.log. Everything the GUI shows about a job is read back from files (job.json,
metrics.jsonl, samples.jsonl), so any GUI, including one started after the job, can watch it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field, fields, make_dataclass
from pathlib import Path
from typing import Any

from tinylm.config import TrainConfig
from tinylm.errors import TinylmError
from tinylm.fileio import atomic_write_text
from tinylm.gui.jobfile import LOG_FILE, TOML_FILE, read_job, write_job
from tinylm.gui.workspace import Workspace, check_name, read_json_dict
from tinylm.models import BYTE_LEVEL_ARCHES
from tinylm.plots import read_metrics
from tinylm.presets import PRESETS
from tinylm.progress import format_duration
from tinylm.run import CONFIG_FILE, METRICS_FILE, SAMPLES_FILE
from tinylm.settings import check, gui_settings, parse_text, to_argv

ACTIVE_STATES = ("starting", "running", "stopping")
START_TIMEOUT_S = 60.0  # a runner that has not written its pid by then never started
DEFAULT_VOCAB = {"en": 1024, "zh": 2048}
RUNNER_MODULE = "tinylm.gui.job_runner"


# The training settings the Train tab offers: those whose declaration has a GUI label
# (`TrainConfig`, `tinylm.settings`). Each is a field of TrainRequest (None: the preset's) and
# becomes its own flag on the `tinylm train` command line the job runs.
GUI_TRAIN_SETTINGS = gui_settings(TrainConfig)

# What the Train tab asks for besides those settings. Data comes from exactly one source.
_REQUEST_FIELDS: list[tuple[str, Any, Any]] = [
    ("name", str, field()),
    ("preset", str, field()),
    ("source", str, field()),  # "builtin" | "prepared" | "upload"
    ("lang", str, field(default="en")),
    ("stories", int, field(default=20_000)),
    ("data_id", str | None, field(default=None)),
    ("upload_path", str | None, field(default=None)),
    ("upload_name", str | None, field(default=None)),
    ("vocab_size", int | None, field(default=None)),
    ("context", int | None, field(default=None)),  # the model's max_seq_len
    ("init_from", str | None, field(default=None)),  # a run to fine-tune instead of a preset
    ("extra_args", list[str], field(default_factory=list)),
]
TrainRequest = make_dataclass(
    "TrainRequest",
    [*_REQUEST_FIELDS, *((name, Any, field(default=None)) for name in GUI_TRAIN_SETTINGS)],
)
TrainRequest.__doc__ = (
    "What the Train tab asks for: data, preset, and the training settings it offers "
    f"({', '.join(GUI_TRAIN_SETTINGS)}; None: the preset's; text is parsed as the flag would be)."
)


def request_settings(req: Any) -> dict[str, Any]:
    """The request's training settings, parsed (text as the flag would be) and range-checked."""
    values: dict[str, Any] = {}
    by_name = {f.name: f for f in fields(TrainConfig)}
    for name, s in GUI_TRAIN_SETTINGS.items():
        value = getattr(req, name)
        if isinstance(value, str):
            value = parse_text(TrainConfig, name, value)
        values[name] = check(by_name[name], s, value, s.gui) if value is not None else None
    return values


@dataclass
class JobStatus:
    run_id: str
    state: str  # starting, running, stopping, stopped, finished, failed, died
    label: str
    step: int = 0
    max_steps: int | None = None
    tokens_per_s: float | None = None
    elapsed: float | None = None
    train_loss: float | None = None
    val_loss: float | None = None
    returncode: int | None = None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def fraction(self) -> float:
        if not self.max_steps:
            return 0.0
        return min(1.0, self.step / self.max_steps)

    @property
    def eta(self) -> float | None:
        if not self.max_steps or not self.step or self.elapsed is None:
            return None
        return self.elapsed / self.step * max(0, self.max_steps - self.step)

    def summary(self) -> str:
        """One line: 'step 120/300 · 5,400 tok/s · elapsed 01:02 · ETA 00:40'."""
        parts = [f"step {self.step:,}/{self.max_steps:,}" if self.max_steps else f"{self.label}"]
        if self.tokens_per_s is not None:
            parts.append(f"{self.tokens_per_s:,.0f} tok/s")
        if self.elapsed is not None:
            parts.append(f"elapsed {format_duration(self.elapsed)}")
        if self.active and self.eta is not None:
            parts.append(f"ETA {format_duration(self.eta)}")
        if self.train_loss is not None:
            parts.append(f"train loss {self.train_loss:.3f}")
        if self.val_loss is not None:
            parts.append(f"val loss {self.val_loss:.3f}")
        return " · ".join(parts)


def runner_alive(pid: int | None) -> bool:
    """Whether `pid` is still one of our runners (not a recycled pid of something else)."""
    if not pid:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        try:
            os.kill(pid, 0)  # no /proc (macOS): trust the pid
        except OSError:
            return False
        return True
    return RUNNER_MODULE.encode() in cmdline


class Jobs:
    def __init__(self, workspace: Workspace) -> None:
        self.ws = workspace
        self._metrics_cache: dict[Path, tuple[tuple[int, int], list[dict]]] = {}
        self._lock = threading.Lock()

    # -- reading ------------------------------------------------------------------------------

    def job_ids(self) -> list[str]:
        """Runs started from a GUI (they have a job record), newest first."""
        ids = [r for r in self.ws.run_ids() if read_job(self.ws.run_path(r)) is not None]
        return sorted(ids, key=lambda r: -(read_job(self.ws.run_path(r)) or {}).get("created", 0))

    def metrics(self, run_dir: Path) -> list[dict]:
        """metrics.jsonl rows, re-read only when the file has changed."""
        path = run_dir / METRICS_FILE
        try:
            stat = path.stat()
        except OSError:
            return []
        key = (stat.st_size, stat.st_mtime_ns)
        with self._lock:
            cached = self._metrics_cache.get(path)
            if cached is None or cached[0] != key:
                cached = (key, read_metrics(path))
                self._metrics_cache[path] = cached
            return cached[1]

    def status(self, run_id: str) -> JobStatus:
        run_dir = self.ws.run_path(run_id)
        job = read_job(run_dir) or {}
        state = job.get("state", "finished" if (run_dir / CONFIG_FILE).is_file() else "unknown")
        if state in ACTIVE_STATES:
            if job.get("pid") is not None:
                alive = runner_alive(job["pid"])
            else:
                alive = time.time() - job.get("created", 0) < START_TIMEOUT_S
            if not alive:
                state = "died"
        steps = job.get("steps") or []
        index = job.get("step", 0)
        label = job.get("label") or (steps[index]["label"] if index < len(steps) else "")
        if steps and state in ACTIVE_STATES:
            label = f"{label} ({index + 1}/{len(steps)})"
        status = JobStatus(run_id, state, label, returncode=job.get("returncode"))
        self._fill_progress(status, run_dir)
        return status

    def _fill_progress(self, status: JobStatus, run_dir: Path) -> None:
        rows = self.metrics(run_dir)
        train = [r for r in rows if "train_loss" in r]
        if train:
            status.step = train[-1]["step"]
            recent = [r["train_loss"] for r in train[-10:]]
            status.train_loss = sum(recent) / len(recent)
        for row in reversed(rows):
            if status.tokens_per_s is None and "tokens_per_s" in row:
                status.tokens_per_s = row["tokens_per_s"]
                status.max_steps = row.get("max_steps")
            if status.elapsed is None and "elapsed" in row:
                status.elapsed = row["elapsed"]
            if status.val_loss is None and "val_loss" in row:
                status.val_loss = row["val_loss"]
        if status.max_steps is None:
            config = read_json_dict(run_dir / CONFIG_FILE)
            status.max_steps = (config.get("train") or {}).get("max_steps")

    def samples(self, run_id: str, last: int = 3) -> list[dict]:
        path = self.ws.run_path(run_id) / SAMPLES_FILE
        rows = read_metrics(path)  # the same JSON-lines reader
        return rows[-last:][::-1]

    def log_tail(self, run_id: str, max_bytes: int = 6000) -> str:
        path = self.ws.run_path(run_id) / LOG_FILE
        if not path.is_file():
            return ""
        with open(path, "rb") as f:
            f.seek(max(0, path.stat().st_size - max_bytes))
            text = f.read().decode("utf-8", errors="replace")
        return text if len(text) < max_bytes else text.split("\n", 1)[-1]

    def is_active(self, run_id: str) -> bool:
        try:
            return self.status(run_id).active
        except TinylmError:
            return False

    # -- starting -----------------------------------------------------------------------------

    def start(self, req: TrainRequest) -> str:
        """Check the request, write the job record, launch the runner; returns the run id."""
        if req.preset not in PRESETS:
            raise TinylmError(f"unknown preset '{req.preset}'; choose one of {', '.join(PRESETS)}")
        # Every setting is parsed and checked here: a typo fails now, not in the background.
        settings = request_settings(req)
        if (settings["max_steps"] is None) == (settings["time_budget"] is None):
            raise TinylmError("say how long to train: max steps or a time budget, not both")
        if settings.get("log_to"):
            from tinylm.tracking import check_trackers_installed, parse_trackers

            check_trackers_installed(parse_trackers(settings["log_to"]))  # not in the background
        run_dir = self.ws.new_run_path(req.name)
        steps, data_dir = self._data_steps(req)
        train_args = ["train", "--data", str(data_dir), "--out", str(run_dir)]
        if req.init_from:
            train_args += ["--init-from", str(self._base_run(req, data_dir))]
        else:
            train_args += ["--preset", req.preset]
            if settings.get("lora_rank") is not None:
                raise TinylmError(
                    "LoRA adapts a trained model: choose the run to start from, or clear the "
                    "LoRA rank"
                )
        if req.context:
            train_args += ["--config", str(run_dir / TOML_FILE)]
        train_args += to_argv(TrainConfig, settings)
        train_args += req.extra_args
        steps.append({"label": "training", "args": train_args})
        run_dir.mkdir(parents=True)
        if req.context:
            atomic_write_text(run_dir / TOML_FILE, f"[model]\nmax_seq_len = {int(req.context)}\n")
        job = {
            "state": "starting",
            "created": time.time(),
            "steps": steps,
            "step": 0,
            "first_step": 0,
            "data": self.ws.data_id(data_dir),
            "request": {k: v for k, v in asdict(req).items() if k != "upload_path"},
        }
        write_job(run_dir, job)
        self._launch(run_dir)
        return self.ws.run_id(run_dir)

    def _base_run(self, req: TrainRequest, data_dir: Path) -> Path:
        """The run a fine-tune starts from; its data must speak that run's tokenizer."""
        from tinylm.data.dataset import load_meta
        from tinylm.finetune import check_tokenizer_matches

        base = self.ws.run_path(req.init_from)
        if req.source != "prepared":
            raise TinylmError(
                f"fine-tuning {req.init_from} needs a prepared data folder made with its "
                f"tokenizer (`tinylm data prepare FILE --tokenizer {base / 'tokenizer.json'}`)"
            )
        if req.context:
            raise TinylmError(f"the context length comes from {req.init_from}; leave it blank")
        check_tokenizer_matches(base, load_meta(data_dir))
        return base

    def _data_steps(self, req: TrainRequest) -> tuple[list[dict[str, Any]], Path]:
        """The commands that make the training data (none when it is ready) and its folder."""
        if req.source == "prepared":
            if not req.data_id:
                raise TinylmError("choose a prepared data folder")
            return [], self.ws.data_path(req.data_id)
        vocab = int(req.vocab_size or DEFAULT_VOCAB.get(req.lang, 1024))
        # A byte-level family (megabyte) reads byte shards: no tokenizer is trained for it.
        byte_level = PRESETS[req.preset].model.get("arch") in BYTE_LEVEL_ARCHES
        tag = "bytes" if byte_level else f"v{vocab}"
        if req.source == "builtin":
            if req.lang not in DEFAULT_VOCAB:
                raise TinylmError(f"the built-in generator writes en or zh, not '{req.lang}'")
            if not 100 <= int(req.stories) <= 2_000_000:
                raise TinylmError("built-in stories: choose between 100 and 2,000,000")
            name = f"synth-{req.lang}-{int(req.stories)}-{tag}"
            data_dir = self.ws.data / name
            if (data_dir / "meta.json").is_file():
                return [], data_dir
            stories = data_dir / "stories.txt"
            synth = ["data", "synth", "--lang", req.lang, "--stories", str(int(req.stories))]
            prepare = _prepare_args(stories, vocab, data_dir, byte_level)
            return [
                {"label": "writing built-in stories", "args": [*synth, "--out", str(stories)]},
                {"label": "preparing data", "args": prepare},
            ], data_dir
        if req.source == "upload":
            if not req.upload_path:
                raise TinylmError("upload a text file first (txt, jsonl, json, csv or tsv)")
            stored = self.ws.store_upload(req.upload_path, req.upload_name or "upload.txt")
            base = check_name(f"{stored.stem}-{tag}", "data folder")
            data_dir = self.ws.data / base
            n = 1
            while data_dir.exists():
                n += 1
                data_dir = self.ws.data / f"{base}-{n}"
            prepare = _prepare_args(stored, vocab, data_dir, byte_level)
            return [{"label": "preparing data", "args": prepare}], data_dir
        raise TinylmError(f"unknown data source '{req.source}'")

    def _launch(self, run_dir: Path) -> None:
        with open(run_dir / LOG_FILE, "a", encoding="utf-8") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", RUNNER_MODULE, str(run_dir)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # not in the GUI's process group: a Ctrl-C there spares it
                close_fds=True,
            )
        # Reap it when it ends (while this GUI lives), so it never lingers as a zombie.
        threading.Thread(target=proc.wait, daemon=True).start()

    # -- stop / resume ------------------------------------------------------------------------

    def stop(self, run_id: str) -> None:
        """Ask the job to stop: training saves a checkpoint and exits; resume continues it."""
        run_dir = self.ws.run_path(run_id)
        job = read_job(run_dir)
        if job is None or not self.status(run_id).active:
            raise TinylmError(f"'{run_id}' is not training")
        pid = job.get("pid")
        if not pid:
            raise TinylmError(f"'{run_id}' is still starting; stop it in a moment")
        os.kill(pid, 2)  # SIGINT, as Ctrl-C would

    def resume(self, run_id: str, max_steps: int | None = None) -> None:
        """Continue a stopped, failed or finished job from where it ended; `max_steps` trains a
        finished run further (the schedule is stretched to the new length)."""
        run_dir = self.ws.run_path(run_id)
        job = read_job(run_dir)
        if job is None:
            raise TinylmError(
                f"'{run_id}' was not started from the GUI; resume it with `tinylm train --resume`"
            )
        status = self.status(run_id)
        if status.active:
            raise TinylmError(f"'{run_id}' is still training")
        if job.get("state") == "finished" and (max_steps is None or max_steps <= status.step):
            raise TinylmError(
                f"'{run_id}' has finished at step {status.step}; to train it further, say until "
                "which step"
            )
        steps = job["steps"]
        first = job.get("step", 0) if job.get("state") != "finished" else len(steps) - 1
        train = steps[-1]
        args = [a for a in train["args"] if a != "--resume"]
        if max_steps is not None:
            args = _drop_flag(_drop_flag(args, "--time-budget"), "--max-steps")
            args += ["--max-steps", str(int(max_steps))]
        if (run_dir / CONFIG_FILE).is_file():
            args.append("--resume")
        train["args"] = args
        job.update(state="starting", created=time.time(), first_step=first, step=first, pid=None)
        job.pop("returncode", None)
        write_job(run_dir, job)
        self._launch(run_dir)


def _prepare_args(source: Path, vocab: int, out: Path, byte_level: bool = False) -> list[str]:
    size = ["--bytes"] if byte_level else ["--vocab-size", str(vocab)]
    return ["data", "prepare", str(source), *size, "--out", str(out)]


def _drop_flag(args: list[str], flag: str) -> list[str]:
    out: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg == flag:
            skip = True
        else:
            out.append(arg)
    return out
