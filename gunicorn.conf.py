"""gunicorn's settings for this project: read from the project root (`gunicorn config.wsgi`); flags override.

Threaded workers (gthread): a request waiting on Clerk's API (just-in-time
creation, at most CLERK_API_TIMEOUT seconds) holds one thread, not a whole
process, so /healthz and known users keep being served while a few new users
wait. Processes give the CPU-bound part (Python holds a lock per process) both
cores; threads cover the waiting. gunicorn does not protect itself from slow
clients: run it behind a buffering proxy (nginx, a cloud load balancer), see
README.md, "Deployment". https://docs.gunicorn.org/en/stable/deploy.html
"""

import glob
import os
import tempfile

wsgi_app = "config.wsgi"
worker_class = "gthread"
# WEB_CONCURRENCY is gunicorn's own variable for the number of workers; 2 per core by default.
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * len(os.sched_getaffinity(0))))
# Per worker: enough for several requests waiting on Clerk at once while others are served.
threads = int(os.environ.get("GUNICORN_THREADS", 8))
# The arbiter's heartbeat (a gthread worker's main loop, not a request): a hung worker is restarted.
timeout = 30
graceful_timeout = 30
# Idle keep-alive connections from the proxy in front.
keepalive = 5

# --- Operations: metrics across workers, the access log, one control socket per instance ---------

# prometheus-client's multiprocess mode: every worker writes its counters to files in this directory and
# /metrics adds them up, whichever worker answers. Set before the app (and prometheus_client) is imported.
# Give each instance its own directory (systemd: RuntimeDirectory); unset, each master makes a fresh one.
metrics_dir = os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="clerk-sync-metrics-"))
os.makedirs(metrics_dir, exist_ok=True)

# Every request on stdout; with LOG_FORMAT=json one JSON object per line (gunicorn escapes the quotes in values).
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
if os.environ.get("LOG_FORMAT") == "json":
    access_log_format = (
        '{"timestamp": "%(t)s", "level": "INFO", "logger": "gunicorn.access", "method": "%(m)s", "path": "%(U)s", '
        '"status": "%(s)s", "bytes": "%(B)s", "duration_ms": %(M)s, "request_id": "%({x-request-id}o)s"}'
    )
else:
    access_log_format = '%(t)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms request_id=%({x-request-id}o)s'

# gunicorn's default control socket is one path per user (~/.gunicorn/gunicorn.ctl), which a second
# instance on the host takes over; each master gets its own unless GUNICORN_CONTROL_SOCKET names one.
control_socket = os.environ.get(
    "GUNICORN_CONTROL_SOCKET", os.path.join(tempfile.gettempdir(), f"clerk-sync-gunicorn-{os.getpid()}.ctl")
)


def on_starting(server) -> None:
    """Counts left by a previous run in the same directory would be added to this one's: start from none."""
    for leftover in glob.glob(os.path.join(metrics_dir, "*.db")):
        os.remove(leftover)


def child_exit(server, worker) -> None:
    """A worker that exited (or was killed): its live gauges go; its counters stay, as counters must."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, metrics_dir)
