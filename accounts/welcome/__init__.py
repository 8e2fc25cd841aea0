"""The welcome email as durable background work: the task, its delivery, and the record of each send."""
