"""Helpers for tests that start the app in another process or thread: a clean environment and patient waits."""

import os
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
# Generous: a busy 2-core machine can take many seconds to import Django in a fresh process.
STARTUP_SECONDS = 60
# gunicorn kills a worker silent for --timeout seconds (30 by default), booting included;
# a busy machine can take longer than that to import the app.
GUNICORN_SLOW_BOOT = ["--timeout", "120"]
# What a process needs from the outside world; nothing the settings read.
PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(**variables: str) -> dict[str, str]:
    """An environment holding only `variables` (and PATH and the like), with the checkout's .env ignored."""
    base = {name: os.environ[name] for name in PASSED_THROUGH if name in os.environ}
    return base | {"DJANGO_READ_DOT_ENV": "0", "PYTHONDONTWRITEBYTECODE": "1"} | variables


def wait_until_answering(url: str, process: subprocess.Popen, *, seconds: float = STARTUP_SECONDS) -> requests.Response:
    """GET `url` until it answers (any status), retrying any request error until `seconds` have passed.

    A server may accept connections before it can answer (gunicorn's worker is still
    importing the app), so a read timeout is retried like a refused connection.
    """
    deadline = time.monotonic() + seconds
    while True:
        try:
            return requests.get(url, timeout=max(deadline - time.monotonic(), 1))
        except requests.RequestException as exc:
            assert process.poll() is None, f"the server exited ({process.returncode}) before answering {url}"
            assert time.monotonic() < deadline, f"{url} did not answer within {seconds} s: {exc}"
            time.sleep(0.1)


def wait_until(condition: Callable[[], object], *, what: str, timeout: float = 120) -> None:
    """Poll `condition` until it is true; fail after a generous `timeout` saying what was awaited.

    For state that another thread or process changes; never a fixed sleep.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.02)
