"""The app under load, as deployed: its environment and secrets, gunicorn, one db_worker, and stopping them."""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from base64 import b64encode
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

PROJECT = Path(__file__).resolve().parent.parent


def credentials() -> tuple[str, str, str]:
    """Made for one run: (the RSA private key signing session tokens, its public key for CLERK_JWT_KEY, both
    PEM; a `whsec_` webhook secret)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private_pem, public_pem, "whsec_" + b64encode(secrets.token_bytes(24)).decode()


def app_env(database_url: str, webhook_secret: str, public_pem: str) -> dict[str, str]:
    """The app's environment: production-like, quiet, and unable to reach anything but 127.0.0.1.

    Every setting the app reads is given here, so neither the caller's environment nor a
    `.env` file (read by config/settings.py for what is not set) changes what is measured.
    """
    prefixes = ("CLERK_", "DJANGO_", "EMAIL_", "TASKS_", "WELCOME_EMAIL_")
    env = {name: value for name, value in os.environ.items() if not name.startswith(prefixes)}
    return env | {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "CSRF_TRUSTED_ORIGINS": "",
        "SECURE_SSL_REDIRECT": "0",
        "USE_X_FORWARDED_PROTO": "0",
        "CONN_MAX_AGE": "60",  # the settings' default: persistent, health-checked connections
        "DATABASE_CONNECT_TIMEOUT": "5",
        "CLERK_WEBHOOK_SECRET": webhook_secret,
        "CLERK_JWT_KEY": public_pem,
        "CLERK_SECRET_KEY": "",  # a user not seeded would get 503, never a call out
        "CLERK_API_URL": "http://127.0.0.1:9",
        "CLERK_AUTHORIZED_PARTIES": "",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",  # builds each message, sends nothing
        "TASKS_BACKEND": "database",  # production's default: the email is a task row, sent by db_worker
        "DEFAULT_FROM_EMAIL": "webmaster@localhost",
        "WEBHOOKS_MAX_BODY_BYTES": "1048576",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }


def step(name: str, command: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(command, cwd=PROJECT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


def gunicorn_start(
    env: dict[str, str], port: int, log: Path, *, workers: int | None = None, worker_class: str | None = None
) -> subprocess.Popen:
    """gunicorn as deployed: the project's gunicorn.conf.py (read from the project root), flags overriding it."""
    command = [
        sys.executable, "-m", "gunicorn", "config.wsgi",
        "--bind", f"127.0.0.1:{port}",
        "--log-level", "warning",
        "--timeout", "30",
    ]  # fmt: skip
    if workers is not None:
        command += ["--workers", str(workers)]
    if worker_class is not None:
        command += ["--worker-class", worker_class]
        if worker_class == "sync":
            command += ["--threads", "1"]  # gunicorn turns sync into gthread when threads > 1 (the conf's 8)
    with open(log, "wb") as output:
        process = subprocess.Popen(
            command, cwd=PROJECT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                if response.status == 200:
                    return process
        except OSError:
            time.sleep(0.1)
    process_stop(process)
    raise RuntimeError(f"gunicorn did not answer /healthz within 30s:\n{log.read_text()}")


def worker_start(env: dict[str, str], log: Path, *, nice: bool = True) -> subprocess.Popen:
    """One db_worker. Next to the web processes it runs at a lower CPU priority, as the README advises:
    during a burst the requests go first and the emails wait, then catch up. `nice=False`: alone."""
    with open(log, "wb") as output:
        return subprocess.Popen(
            (["nice", "-n", "10"] if nice else []) + [sys.executable, "manage.py", "db_worker", "--no-reload"],
            cwd=PROJECT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def process_stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # graceful: the master stops its workers
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def gunicorn_shape(options: argparse.Namespace) -> str:
    if options.worker_class is None and options.workers is None:
        return "workers and threads from gunicorn.conf.py"
    return f"--worker-class {options.worker_class or '(conf)'} --workers {options.workers or '(conf)'}"
