"""Start and stop a real Celery worker process that works on the test database.

Used by tests marked `worker`. The worker is a separate process, so it must see what the
test commits: use it from a `django_db(transaction=True)` test. It reads the same broker as
the test process (REDIS_URL when set, else the filesystem transport under VAR_DIR).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import quote

from django.conf import settings

QUEUES = ("default", "ingest", "analytics", "campaigns")
READY_MARKER = "ready."


def database_url_for_worker(db: dict) -> str:
    """DATABASE_URL that points a worker process at the database described by `db`.

    Pass `django.db.connection.settings_dict` from inside a test: its NAME is then already
    the test database. Refuses an in-memory SQLite database, which no other process can open.
    """
    engine, name = db["ENGINE"], str(db["NAME"])
    if engine.endswith("sqlite3"):
        if not name or name == ":memory:" or "mode=memory" in name:
            raise RuntimeError("an in-memory SQLite test database cannot be shared with a worker process")
        return f"sqlite:///{Path(name).resolve()}"
    if engine.endswith("postgresql"):
        auth = quote(db.get("USER") or "", safe="")
        if db.get("PASSWORD"):
            auth += ":" + quote(db["PASSWORD"], safe="")
        host = db.get("HOST") or "localhost"
        port = db.get("PORT") or 5432
        return f"postgres://{auth}@{host}:{port}/{quote(name, safe='')}"
    raise RuntimeError(f"no DATABASE_URL form known for {engine}")


def purge_queues(app, queues: Sequence[str] = QUEUES) -> int:
    """Drop messages left in the broker by earlier runs; returns how many were dropped."""
    dropped = 0
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        for queue in queues:
            with contextlib.suppress(Exception):  # a queue nobody declared yet holds nothing
                dropped += channel.queue_purge(queue) or 0
    return dropped


class WorkerProcess:
    def __init__(self, process: subprocess.Popen, log_path: Path, hostname: str):
        self.process = process
        self.log_path = log_path
        self.hostname = hostname

    def alive(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_until_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while READY_MARKER not in self.log():
            if not self.alive():
                raise RuntimeError(f"the worker exited with {self.process.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the worker was not ready after {timeout:.0f} s:\n{self.log()}")
            time.sleep(0.2)

    def stop(self, grace: float = 10) -> None:
        """SIGTERM (warm shutdown: the running task finishes), then SIGKILL after `grace` seconds."""
        if not self.alive():
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=grace)


@contextlib.contextmanager
def celery_worker(
    *,
    database_url: str,
    queues: Sequence[str] = QUEUES,
    include: Sequence[str] = (),
    extra_env: dict[str, str] | None = None,
    ready_timeout: float = 30,
) -> Iterator[WorkerProcess]:
    """Run `celery -A config worker` on `queues` for the duration of the block.

    The worker gets a unique hostname, one solo process, and the environment of the test
    run plus DATABASE_URL (and `extra_env`). Its output goes to a temporary log file, which
    is printed when the block fails (pytest shows it with the failure) and removed otherwise.
    `include` names extra task modules to import (celery --include).
    """
    hostname = f"test-{uuid.uuid4().hex[:10]}@%h"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url,
        "VAR_DIR": str(settings.VAR_DIR),
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "-Q",
        ",".join(queues),
        "-c",
        "1",
        "--pool=solo",
        "-n",
        hostname,
        "--loglevel=INFO",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    if include:
        command += ["--include", ",".join(include)]
    fd, log_name = tempfile.mkstemp(prefix="celery-worker-", suffix=".log")
    log_path = Path(log_name)
    with os.fdopen(fd, "w") as log_file:
        process = subprocess.Popen(
            command, cwd=settings.BASE_DIR, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
    worker = WorkerProcess(process, log_path, hostname)
    failed = True
    try:
        worker.wait_until_ready(ready_timeout)
        yield worker
        failed = False
    finally:
        worker.stop()
        if failed:
            print(f"--- celery worker log ({log_path}) ---\n{worker.log()}\n--- end of worker log ---")
        else:
            log_path.unlink(missing_ok=True)
