"""The GET scenarios driven by wrk, a C load generator, when it is installed.

A load generator written in Python on the same two cores takes CPU from the
server and flatters slow paths; wrk costs a fraction of it. load.py takes
turns between scenarios in short slices; each GET slice is one `wrk` run here.
A Lua script cycles the requests over a file of session tokens (the seeded
users', or the organization members' for the organization scenarios) and
prints the slice's totals as one JSON line. CPU is accounted with cpu.py, as
for load.py's own slices (the app's processes, PostgreSQL's, and wrk's own as
the client).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
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


def wrk_path() -> str | None:
    return shutil.which("wrk")


class Wrk:
    """wrk runs against the app of `spec` (load.py's); the Lua script and the token files are written in `work`."""

    def __init__(self, spec: dict, work: Path, tokens: dict[str, list[str]]) -> None:
        self.spec = spec
        self.script = work / "bench.lua"
        self.script.write_text(SCRIPT)
        self.token_files = {}
        for name, values in tokens.items():
            self.token_files[name] = work / f"tokens-{name}.txt"
            self.token_files[name].write_text("\n".join(values) + "\n")

    def slice(self, path: str, tokens: str | None, concurrency: int, seconds: float) -> dict:
        """One wrk run of GET `path` (with the token set `tokens`, or none) for `seconds` (whole, at least 1)."""
        env = os.environ | {"BENCH_PATH": path, "BENCH_TOKENS": str(self.token_files[tokens]) if tokens else ""}
        command = [
            wrk_path() or "wrk",
            "--threads", str(min(concurrency, 2)),
            "--connections", str(concurrency),
            "--duration", f"{max(1, round(seconds))}s",
            "--timeout", "10s",
            "--script", str(self.script),
            f"http://127.0.0.1:{self.spec['port']}",
        ]  # fmt: skip
        app_pids, database = (self.spec["gunicorn_pid"], self.spec["worker_pid"]), self.spec["db_name"]
        processes = cpu_snapshot(*app_pids, database=database)
        client, busy = children_cpu_seconds(), machine_busy_seconds()
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        after = cpu_snapshot(*app_pids, database=database)
        totals = json.loads(done.stdout.strip().splitlines()[-1])
        totals["cpu"] = {
            "app": cpu_seconds(processes["app"], after["app"]),
            "db": cpu_seconds(processes["db"], after["db"]),
            "client": children_cpu_seconds() - client,
            "busy": machine_busy_seconds() - busy,
        }
        return totals


def phase(name: str, concurrency: int, parts: list[dict]) -> dict:
    """A scenario's wrk slices at one concurrency, summed into a row shaped like drive.Phase's."""
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
