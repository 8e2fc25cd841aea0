"""Run background work stored in the database, through database outages: tasks, welcome emails, the schedule.

django-tasks-db's worker with two additions (it replaces that app's
`db_worker`, being earlier in INSTALLED_APPS):

- it survives the database going away: the library's loop raises on a
  connection error (and leaves the task it was running `RUNNING` for good);
  here the loop waits and starts again, and the task's own record (the
  UserProvisioning row) is what counts, not the library's result row;
- a mailer thread sends the welcome emails that are due, in batches
  (accounts/welcome/mailer.py): new ones, retries, and those a dead worker
  had claimed once their lease ran out;
- a schedule thread runs the jobs of the schedule the workers share in the
  database (reconciliation passes, maintenance: accounts/schedule/) every
  SCHEDULE_TICK_SECONDS;
- a monitor thread records the worker's heartbeat and evaluates the alarms
  every ALARM_INTERVAL_SECONDS (accounts/alarms/monitor.py).

Any number can run at once on any number of hosts: tasks are claimed with
SELECT … FOR UPDATE SKIP LOCKED, welcome emails and scheduled jobs with a lease.
"""

from __future__ import annotations

import logging
import os
import time

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils.autoreload import DJANGO_AUTORELOAD_ENV, run_with_reloader
from django_tasks_db.management.commands import db_worker as library

from accounts.alarms.monitor import Monitor
from accounts.schedule.periodic import Periodic, close_quietly
from accounts.schedule.runner import schedule_run_due
from accounts.welcome.mailer import Mailer

logger = logging.getLogger("accounts.worker")

# Waits between reconnection attempts during a database outage.
OUTAGE_WAITS = (1, 2, 5, 10)


class Worker(library.Worker):
    def run(self) -> None:
        threads = [
            Mailer(),
            Periodic("schedule", schedule_run_due, settings.SCHEDULE_TICK_SECONDS),
            Monitor(settings.ALARM_INTERVAL_SECONDS),  # the heartbeat, then the alarms
        ]
        for thread in threads:
            thread.start()
        failures = 0
        try:
            while self.running:
                try:
                    super().run()
                    return  # stopped by a signal, --batch or --max-tasks
                except (OperationalError, InterfaceError) as exc:
                    wait = OUTAGE_WAITS[min(failures, len(OUTAGE_WAITS) - 1)]
                    failures += 1
                    logger.warning("database unavailable (%s); worker retrying in %ss", str(exc).strip(), wait)
                    close_quietly()
                    time.sleep(wait)
                    self.startup_delay = False
        finally:
            for thread in threads:
                thread.stop()


class Command(library.Command):
    help = (
        "Run background work (TASKS_BACKEND=database) until stopped; keeps running through a database outage. "
        "Run as many as you like, on any hosts."
    )

    def handle(
        self,
        *,
        verbosity: int,
        queue_name: str,
        interval: float,
        batch: bool,
        backend_name: str,
        startup_delay: bool,
        reload: bool,
        max_tasks: int | None,
        worker_id: str,
        exclude_queues: str,
        **options,
    ) -> None:
        # The library's handle(), building this module's Worker.
        self.configure_logging(verbosity)
        queue_names = queue_name.split(",")
        excluded = exclude_queues.split(",") if exclude_queues else []
        if excluded and "*" not in queue_names:
            raise library.CommandError("--exclude-queues can only be used with --queue-name=*")
        worker = Worker(
            queue_names=queue_names,
            interval=interval,
            batch=batch,
            backend_name=backend_name,
            startup_delay=startup_delay,
            max_tasks=max_tasks,
            worker_id=worker_id,
            excluded_queue_names=excluded,
        )
        if reload and not batch:
            if os.environ.get(DJANGO_AUTORELOAD_ENV) == "true":
                worker.configure_signals()  # only the reloader's child handles signals
            run_with_reloader(worker.run)
        else:
            worker.configure_signals()
            worker.run()
