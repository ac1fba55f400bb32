"""The job record a GUI training job keeps in its run folder (job.json), and the log beside it.
Light on imports: the detached runner reads and writes it before anything else loads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tinylm.fileio import atomic_write_json

JOB_FILE = "job.json"
LOG_FILE = "train.log"
TOML_FILE = "train.toml"


def read_job(run_dir: Path) -> dict[str, Any] | None:
    try:
        job = json.loads((run_dir / JOB_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return job if isinstance(job, dict) and isinstance(job.get("steps"), list) else None


def write_job(run_dir: Path, job: dict[str, Any]) -> None:
    atomic_write_json(run_dir / JOB_FILE, job)
