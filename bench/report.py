"""What run.py prints: the machine, the table of phases, the SQL per request, and the targets."""

from __future__ import annotations

import argparse
import os
import platform
import re
from pathlib import Path

import psycopg
from database import ADMIN_URL
from processes import gunicorn_shape

# At concurrency 8, as a share of /healthz's throughput in the same run (issue 22's targets).
TARGETS = {
    "new user.created": 0.2,
    "duplicate delivery": 0.5,
    "/api/me/ known user": 0.7,
    "/api/me/ with organization": 0.65,
}
REPORTED = ["/api/orgs/current/members/"]  # in the targets' list, without a target
TARGET_CONCURRENCY = 8
NAME = 26  # the scenario column's width


def machine(setup: str) -> str:
    """The report's head: the machine, the software and `setup`, the run's (run.py's is `setup(options)`)."""
    return "\n".join(["clerk-sync benchmark", *machine_and_software(), f"setup     : {setup}"])


def machine_and_software() -> list[str]:
    """Two lines: the machine (cores, CPU, memory, load) and the software (Python, PostgreSQL, packages)."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    memory = re.search(r"^MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text(), re.MULTILINE)
    with psycopg.connect(ADMIN_URL) as admin:
        server = admin.execute("SHOW server_version").fetchone()[0]
    packages = {}
    for package in ("django", "gunicorn", "psycopg", "svix", "jwt"):
        module = __import__(package)
        packages[package] = module.get_version() if package == "django" else module.__version__
    return [
        f"machine   : {len(os.sched_getaffinity(0))} cores (nproc), {model.group(1) if model else '?'}, "
        f"{int(memory.group(1)) // 1024 if memory else '?'} MiB, Linux {platform.release()}, "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        f"software  : Python {platform.python_version()}, PostgreSQL {server}, "
        + ", ".join(f"{name} {version}" for name, version in packages.items()),
    ]


def setup(options: argparse.Namespace) -> str:
    """run.py's setup line."""
    return (
        f"gunicorn {gunicorn_shape(options)} and 1 db_worker (nice 10, running throughout), "
        "DEBUG=0, LOG_LEVEL=WARNING, locmem email, "
        f"{options.users} users in {options.organizations} organizations, "
        f"{options.duration:g}s per scenario and concurrency in {options.rounds} interleaved slices, "
        f"concurrencies {' '.join(map(str, options.concurrency))}"
    )


def table(phases: list[dict]) -> str:
    """One row per scenario and concurrency, with its share of /healthz at the same concurrency."""
    floor = {phase["concurrency"]: phase["rps"] for phase in phases if phase["scenario"] == "/healthz"}
    header = (
        f"{'scenario':<{NAME}} {'conc':>4} {'requests':>8} {'errors':>6} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'x healthz':>9}  {'CPU ms/request: app':>19} {'db':>5} {'client':>6}  {'other cores':>11}"
    )
    lines = [header, "-" * len(header)]
    for phase in phases:
        share = phase["rps"] / floor[phase["concurrency"]] if floor.get(phase["concurrency"]) else 0
        bound = "*" if phase["exhausted"] else ("w" if phase.get("client") == "wrk" else " ")
        lines.append(
            f"{phase['scenario']:<{NAME}} {phase['concurrency']:>4} {phase['requests']:>7}{bound} {phase['errors']:>6} "
            f"{phase['rps']:>8.1f} {phase['p50_ms']:>7.2f} {phase['p99_ms']:>7.2f} {share:>8.2f}x  "
            f"{_cpu(phase['app_cpu_ms'], 19)} {_cpu(phase['db_cpu_ms'], 5)} {_cpu(phase['client_cpu_ms'], 6)}  "
            f"{_cpu(phase['other_cores'], 11)}"
        )
    if any(phase["exhausted"] for phase in phases):
        lines.append("* stopped by the request bound before the time bound")
    if any(phase.get("client") == "wrk" for phase in phases):
        lines.append("w driven by wrk (client CPU: wrk's); the others by load.py")
    return "\n".join(lines)


def _cpu(value: float | None, width: int) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.2f}"


def statements_table(report: dict) -> str:
    """inprocess.py's `statements` report: per scenario, what one request sends to PostgreSQL."""
    lines = [
        "per request, in process through config.wsgi (no HTTP, no gunicorn), one at a time:",
        f"{'scenario':<{NAME}} {'statements':>10} {'round trips':>11} {'ms':>6} {'CPU ms':>6}  "
        "what goes to PostgreSQL, in order",
    ]
    for name, row in report.items():
        sent = [_short(command) for command in row["sent"]]
        lines.append(
            f"{name:<{NAME}} {row['statements']:>10} {row['round_trips']:>11} {row['inprocess_ms']:>6.2f} "
            f"{row['inprocess_cpu_ms']:>6.2f}  {'; '.join(sent)}"
        )
    return "\n".join(lines)


def _short(sql: str) -> str:
    """'INSERT INTO "webhooks_webhookattempt" (...' -> 'INSERT webhooks_webhookattempt'."""
    sql = " ".join(sql.replace('"', "").split())
    if sql.startswith("SELECT 1"):
        return "SELECT 1"
    writes = re.findall(r"(?<!DO )\b(INSERT INTO|UPDATE|DELETE FROM) (\w+)", sql)  # not ON CONFLICT DO UPDATE
    if sql.startswith("WITH"):  # one statement doing several things
        return "WITH(" + ", ".join(f"{verb.split()[0]} {name}" for verb, name in writes) + ")"
    if writes:
        verb, name = writes[0]
        return f"{verb.split()[0]} {name}" + (" ON CONFLICT" if "ON CONFLICT" in sql else "")
    read = re.search(r"\bFROM (\w+)", sql)
    if sql.startswith("SELECT") and read:
        return f"SELECT {read.group(1)}" + (" FOR UPDATE" if "FOR UPDATE" in sql else "")
    return sql.split()[0] if sql else sql


def targets(phases: list[dict]) -> list[str]:
    """Whether each scenario's share of /healthz at TARGET_CONCURRENCY meets TARGETS, a line each."""
    at = {phase["scenario"]: phase for phase in phases if phase["concurrency"] == TARGET_CONCURRENCY}
    if "/healthz" not in at:
        return [f"targets: not measured (no phase at concurrency {TARGET_CONCURRENCY})"]
    floor = at["/healthz"]["rps"]
    lines = [f"targets at concurrency {TARGET_CONCURRENCY}, as a share of /healthz ({floor:.0f} req/s):"]
    for scenario in [*TARGETS, *REPORTED]:
        if scenario not in at:
            lines.append(f"  not measured {scenario}")
            continue
        rps, target = at[scenario]["rps"], TARGETS.get(scenario)
        share = rps / floor if floor else 0.0
        verdict = "       " if target is None else "met    " if share >= target else "NOT met"
        wanted = "no target" if target is None else f"target {target:.2f}x"
        lines.append(f"  {verdict} {scenario:<{NAME}} {share:.2f}x ({wanted}, {rps:.0f} req/s)")
    return lines
