"""What operators reach over HTTP: /metrics, and the recovery link to Clerk's webhook dashboard."""
