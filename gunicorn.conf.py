"""gunicorn's settings for this project: read from the project root (`gunicorn config.wsgi`); flags override.

Threaded workers (gthread): a request waiting on Clerk's API (just-in-time
creation, at most CLERK_API_TIMEOUT seconds) holds one thread, not a whole
process, so /healthz and known users keep being served while a few new users
wait. Processes give the CPU-bound part (Python holds a lock per process) both
cores; threads cover the waiting. gunicorn does not protect itself from slow
clients: run it behind a buffering proxy (nginx, a cloud load balancer), see
README.md, "Deployment". https://docs.gunicorn.org/en/stable/deploy.html
"""

import os

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
