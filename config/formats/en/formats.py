"""How the admin writes a moment, with seconds and the zone: 2026-12-04 19:09:00 UTC (FORMAT_MODULE_PATH).

Django's English default ("Dec. 4, 2026, 7:09 p.m.") has neither; every other format stays Django's.
The same format in Python code: webhooks.admin.display.moment.
"""

DATETIME_FORMAT = "Y-m-d H:i:s T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i:s T"
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
