"""Prefect flows: thin sequencing of isoaudit's library calls."""
