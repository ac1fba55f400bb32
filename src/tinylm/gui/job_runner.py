"""The detached process behind a GUI training job: `python -m tinylm.gui.job_runner RUN_DIR`.

It runs the job's `tinylm` commands (make data, prepare it, train) one after another as real
subprocesses, appends their output to RUN_DIR/train.log, and keeps RUN_DIR/job.json up to date
(state, current step, exit code). It lives in its own session, so closing the browser tab or
stopping the GUI does not stop it, and the GUI can pick the job up again after a restart.

SIGINT (the GUI's Stop button) is passed to the running command exactly once: `tinylm train`
then finishes its step, saves a checkpoint and exits 130 (a second SIGINT would make it leave
without saving).
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from tinylm.gui.jobfile import LOG_FILE, read_job, write_job


def run_job(run_dir: Path) -> int:
    job = read_job(run_dir)
    if job is None:
        print(f"no job.json in {run_dir}", file=sys.stderr)
        return 2
    state = {"stopping": False, "child": None}

    def on_signal(signum: int, frame: object) -> None:
        if state["stopping"]:
            return
        state["stopping"] = True
        job["state"] = "stopping"
        write_job(run_dir, job)
        child = state["child"]
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGINT)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    job.update(state="running", pid=os.getpid(), started=time.time(), ended=None)
    write_job(run_dir, job)
    returncode = 0
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "120"}
    with open(run_dir / LOG_FILE, "a", encoding="utf-8") as log:
        for index, step in enumerate(job["steps"]):
            if index < job.get("first_step", 0):
                continue
            if state["stopping"]:
                returncode = 130
                break
            job.update(step=index, label=step["label"])
            write_job(run_dir, job)
            command = ["tinylm", *step["args"]]
            log.write(f"\n$ {shlex.join(command)}\n")
            log.flush()
            child = subprocess.Popen(
                [sys.executable, "-m", "tinylm", *step["args"]],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
            state["child"] = child
            if state["stopping"]:  # Stop arrived while the command was starting
                child.send_signal(signal.SIGINT)
            returncode = child.wait()
            state["child"] = None
            if returncode != 0:
                break
        log.write(f"[job ended with exit code {returncode}]\n")
    if returncode == 0 and not state["stopping"]:
        final = "finished"
    elif returncode in (130, -signal.SIGINT) or state["stopping"]:
        final = "stopped"
    else:
        final = "failed"
    job.update(state=final, returncode=returncode, ended=time.time())
    write_job(run_dir, job)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_job(Path(sys.argv[1])))
