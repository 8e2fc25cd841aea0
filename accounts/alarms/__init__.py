"""Alarms: named conditions the app evaluates itself, raised and cleared once across every worker and host."""
