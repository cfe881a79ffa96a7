"""The README's first command, started, stopped and started again on the same database."""

from __future__ import annotations

import base64
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.e2e.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent


def _get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


class Demo:
    """``flask --app wsgi demo run`` in a subprocess, on ports of the test's choosing."""

    def __init__(self, tmp_path: Path) -> None:
        key = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
        self.database = tmp_path / "demo.db"
        self.log = tmp_path / "demo.log"
        self.env = {
            **os.environ,
            "PORTAL_ENV": "demo",
            "DATABASE_URL": f"sqlite:///{self.database}",
            "SECRET_KEY": "restart-test",
            "ENCRYPTION_KEYS": f"k1:{key}",
            "JOB_RUNNER": "inprocess",
        }
        for name in ("PUBLIC_BASE_URL", "SANDBOX_URL", "PORT", "SANDBOX_PORT", "CELERY_BROKER_URL"):
            self.env.pop(name, None)

    def start(self, **env: str) -> tuple[subprocess.Popen, str]:
        port = free_port()
        command = [sys.executable, "-m", "flask", "--app", "wsgi", "demo", "run"]
        command += ["--sandbox-port", str(free_port())]
        with self.log.open("a") as log:
            process = subprocess.Popen(
                command, cwd=ROOT, env={**self.env, "PORT": str(port), **env},
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        return process, f"http://127.0.0.1:{port}"

    def healthy(self, process: subprocess.Popen, url: str) -> tuple[int, bytes]:
        """The first answer of /healthz that is not 'not listening yet' (60 s at most)."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            status, body = _get(f"{url}/healthz", timeout=20)
            if status:
                return status, body
            time.sleep(0.2)
        return 0, self.log.read_bytes()[-2000:]

    @staticmethod
    def stop(process: subprocess.Popen) -> None:
        process.send_signal(signal.SIGINT)  # Ctrl+C
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def write_lock_is_free(self) -> bool:
        """Free within 10 s: background passes write briefly, a leaked transaction holds it."""
        connection = sqlite3.connect(self.database, timeout=10, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("ROLLBACK")
            return True
        except sqlite3.OperationalError:
            return False
        finally:
            connection.close()

    def sandbox_urls(self) -> set[str]:
        connection = sqlite3.connect(self.database)
        try:
            rows = connection.execute("SELECT settings FROM partner_configurations").fetchall()
        finally:
            connection.close()
        urls = set()
        for (settings,) in rows:
            urls |= {v for k, v in json.loads(settings).items() if k.endswith("_url")}
        return urls


def test_the_demo_answers_after_a_restart_and_follows_its_ports(tmp_path):
    demo = Demo(tmp_path)
    for attempt in range(3):  # the first start seeds; the next ones find the data
        process, url = demo.start()
        try:
            status, body = demo.healthy(process, url)
            assert status == 200, f"start {attempt + 1}: /healthz {status}: {body[-2000:]!r}"
            assert demo.write_lock_is_free(), "an idle demo holds the database's write lock"
            port = url.rsplit(":", 1)[1]
            moved = {u for u in demo.sandbox_urls() if "/webhooks/" in u or "/return" in u}
            assert moved and all(f":{port}/" in u for u in moved), moved
        finally:
            demo.stop(process)
