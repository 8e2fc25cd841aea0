"""/metrics under gunicorn: counts added up over every worker process, those killed included, exactly.

gunicorn.conf.py as production uses it (two workers), a migrated SQLite file,
and signed Clerk deliveries over fresh connections. Killing every worker
with SIGKILL and counting on proves the sum is over processes' files (the
dead ones' counts stay), whichever worker answers the scrape.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from config.tests.helpers import load_fixture
from config.tests.processes import ROOT, clean_env, free_port, wait_until, wait_until_answering
from webhooks.tests.deliveries import TEST_WEBHOOK_SECRET, new_msg_id, svix_headers

TOKEN = "gunicorn-metrics-token"


@pytest.fixture
def server(tmp_path):
    metrics_dir = tmp_path / "metrics"
    env = clean_env(
        DEBUG="0",
        SECRET_KEY="test-secret-key-for-metrics",
        ALLOWED_HOSTS="127.0.0.1",
        DATABASE_URL=f"sqlite:///{tmp_path / 'metrics.sqlite3'}",
        CLERK_WEBHOOK_SECRET=TEST_WEBHOOK_SECRET,
        METRICS_TOKEN=TOKEN,
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        WEB_CONCURRENCY="2",
        GUNICORN_THREADS="2",
        TASKS_BACKEND="immediate",
        LOG_FORMAT="json",
    )
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=300)
    port = free_port()
    log = tmp_path / "gunicorn.log"
    gunicorn = Path(sys.executable).with_name("gunicorn")
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(gunicorn), "--bind", f"127.0.0.1:{port}", "--timeout", "120"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(f"{url}/healthz", process)
        wait_until(lambda: len(workers_of(process.pid)) == 2, what="two gunicorn workers")
        yield url, process, metrics_dir, log
    finally:
        process.terminate()
        process.wait(timeout=60)
        print(log.read_text(errors="replace"))  # shown when the test fails


def workers_of(master_pid: int) -> list[int]:
    """The pids whose parent is gunicorn's master (/proc)."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            if f"\nPPid:\t{master_pid}\n" in status:
                children.append(int(entry.name))
    return children


def deliver(url: str, count: int) -> None:
    body = json.dumps(load_fixture("user__created"))
    for _ in range(count):
        headers = svix_headers(body, msg_id=new_msg_id()) | {"Content-Type": "application/json", "Connection": "close"}
        assert requests.post(f"{url}/webhooks/clerk/", data=body, headers=headers, timeout=60).status_code == 200


def delivered(url: str) -> float:
    response = requests.get(f"{url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
    assert response.status_code == 200
    families = {family.name: family for family in text_string_to_metric_families(response.text)}
    return sum(s.value for s in families["clerk_sync_webhook_deliveries"].samples if s.name.endswith("_total"))


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds gunicorn's workers through /proc")
def test_metrics_add_up_every_worker_process_exactly_including_killed_ones(server):
    url, master, metrics_dir, _ = server
    first_workers = workers_of(master.pid)

    deliver(url, 6)
    assert [delivered(url) for _ in range(4)] == [6] * 4  # whichever worker answers

    for pid in first_workers:
        os.kill(pid, signal.SIGKILL)
    wait_until(lambda: len(set(workers_of(master.pid)) - set(first_workers)) == 2, what="two new workers")
    wait_until_answering(f"{url}/healthz", master)
    deliver(url, 4)

    assert [delivered(url) for _ in range(4)] == [10] * 4
    assert requests.get(f"{url}/metrics", timeout=60).status_code == 401
    counted_by = {path.name.rsplit("_", 1)[1] for path in metrics_dir.glob("counter_*.db")}
    assert len(counted_by) >= 2  # the killed workers' counts stayed, beside the new ones'


def test_each_request_gets_one_json_access_line_carrying_its_request_id(server):
    url, _, _, log = server
    answers = [
        requests.get(f"{url}/healthz", headers=headers, timeout=60) for headers in ({}, {"X-Request-ID": "lb-7"})
    ]

    ids = [answer.headers["X-Request-ID"] for answer in answers]
    assert ids[1] == "lb-7" and len(ids[0]) == 32

    def access_lines():
        lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
        return [line for line in lines if line.get("logger") == "gunicorn.access" and line["path"] == "/healthz"]

    wait_until(lambda: {line["request_id"] for line in access_lines()} >= set(ids), what="the access lines")
    for line in access_lines():
        assert {"timestamp", "level", "method", "status", "duration_ms"} <= line.keys()
