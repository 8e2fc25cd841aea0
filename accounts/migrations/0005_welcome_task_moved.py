"""The welcome email's task moved from accounts.tasks to accounts.welcome.tasks.

django-tasks-db stores each task's import path in its rows and imports it when a
worker runs the row, so rows queued under the old path are pointed at the new one.
A row an old web process still queues under the old path during a rolling deploy
fails to import; its welcome email stays pending and the db_worker's sweep
triggers it again (accounts.welcome.queue.welcome_emails_sweep).
"""

from django.db import migrations

OLD_PATH = "accounts.tasks.welcome_email_send"
NEW_PATH = "accounts.welcome.tasks.welcome_email_send"


def task_rows_repoint(old: str, new: str):
    def repoint(apps, schema_editor):
        task_result = apps.get_model("django_tasks_database", "DBTaskResult")
        task_result.objects.using(schema_editor.connection.alias).filter(task_path=old).update(task_path=new)

    return repoint


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_organizations"),
        ("django_tasks_database", "0021_conditional_partial_index_ordering"),
    ]

    operations = [migrations.RunPython(task_rows_repoint(OLD_PATH, NEW_PATH), task_rows_repoint(NEW_PATH, OLD_PATH))]
