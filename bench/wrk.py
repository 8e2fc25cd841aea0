"""The GET scenarios (/healthz, /api/me/ known user) driven by wrk, a C load generator, when it is installed.

A load generator written in Python on the same two cores takes CPU from the
server and flatters slow paths; wrk costs a fraction of it. Each scenario runs
in interleaved slices like load.py's (healthz, me, healthz, ...), every slice
a separate `wrk` run; a Lua script cycles /api/me/ over the seeded users'
tokens and prints the slice's totals as one JSON line. CPU is accounted with
cpu.py, as for load.py's slices (gunicorn's processes, PostgreSQL's, and wrk's
own as the client).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from cpu import children_cpu_seconds, cpu_seconds, cpu_snapshot, machine_busy_seconds

SCRIPT = r"""
local path = os.getenv("BENCH_PATH")
local tokens = {}
local file = os.getenv("BENCH_TOKENS")
if file ~= nil and file ~= "" then
  for line in io.lines(file) do tokens[#tokens + 1] = line end
end
local index = 0

request = function()
  if #tokens == 0 then return wrk.format("GET", path) end
  index = index % #tokens + 1
  return wrk.format("GET", path, {["Authorization"] = "Bearer " .. tokens[index]})
end

done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "non_2xx": %d, "socket_errors": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, errors.status,
    errors.connect + errors.read + errors.write + errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""

WRK_SCENARIOS = {"/healthz": "/healthz", "/api/me/ known user": "/api/me/"}


def wrk_path() -> str | None:
    return shutil.which("wrk")


def run(
    port: int, gunicorn_pid: int, tokens: list[str], concurrencies: list[int], duration: float, rounds: int
) -> list[dict]:
    """One phase per scenario and concurrency, shaped like load.py's."""
    work = Path(tempfile.mkdtemp(prefix="clerk-sync-wrk-"))
    try:
        script, token_file = work / "bench.lua", work / "tokens.txt"
        script.write_text(SCRIPT)
        token_file.write_text("\n".join(tokens) + "\n")
        seconds = max(1, round(duration / rounds))
        for path in WRK_SCENARIOS.values():  # warm-up, not reported
            _slice(port, gunicorn_pid, path, token_file, script, max(concurrencies), 1)
        phases = []
        for concurrency in concurrencies:
            slices: dict[str, list[dict]] = {name: [] for name in WRK_SCENARIOS}
            for _ in range(rounds):
                for name, path in WRK_SCENARIOS.items():
                    slices[name].append(_slice(port, gunicorn_pid, path, token_file, script, concurrency, seconds))
            phases += [_phase(name, concurrency, parts) for name, parts in slices.items()]
        return phases
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _slice(
    port: int, gunicorn_pid: int, path: str, token_file: Path, script: Path, concurrency: int, seconds: int
) -> dict:
    env = os.environ | {"BENCH_PATH": path, "BENCH_TOKENS": str(token_file) if path == "/api/me/" else ""}
    command = [
        wrk_path() or "wrk",
        "--threads", str(min(concurrency, 2)),
        "--connections", str(concurrency),
        "--duration", f"{seconds}s",
        "--timeout", "10s",
        "--script", str(script),
        f"http://127.0.0.1:{port}",
    ]  # fmt: skip
    processes, client, busy = cpu_snapshot(gunicorn_pid), children_cpu_seconds(), machine_busy_seconds()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    after = cpu_snapshot(gunicorn_pid)
    totals = json.loads(done.stdout.strip().splitlines()[-1])
    totals["cpu"] = {
        "app": cpu_seconds(processes["app"], after["app"]),
        "db": cpu_seconds(processes["db"], after["db"]),
        "client": children_cpu_seconds() - client,
        "busy": machine_busy_seconds() - busy,
    }
    return totals


def _phase(name: str, concurrency: int, parts: list[dict]) -> dict:
    requests = sum(part["requests"] for part in parts)
    seconds = sum(part["duration_us"] for part in parts) / 1e6
    errors = sum(part["non_2xx"] + part["socket_errors"] for part in parts)
    cpu = {name: sum(part["cpu"][name] for part in parts) for name in ("app", "db", "client", "busy")}
    per_request = (lambda seconds_used: round(seconds_used * 1000 / requests, 3)) if requests else (lambda _: 0.0)
    return {
        "scenario": name,
        "concurrency": concurrency,
        "requests": requests,
        "errors": errors,
        "statuses": {"non-2xx": errors} if errors else {"2xx": requests},
        "rps": requests / seconds if seconds else 0.0,
        # Per slice from wrk; across slices the middle p50 and the worst p99.
        "p50_ms": sorted(part["p50_us"] for part in parts)[len(parts) // 2] / 1000,
        "p99_ms": max(part["p99_us"] for part in parts) / 1000,
        "app_cpu_ms": per_request(cpu["app"]),
        "db_cpu_ms": per_request(cpu["db"]),
        "client_cpu_ms": per_request(cpu["client"]),
        "other_cores": (
            round(max(0.0, cpu["busy"] - cpu["app"] - cpu["db"] - cpu["client"]) / seconds, 2) if seconds else 0.0
        ),
        "exhausted": False,
        "client": "wrk",
    }
