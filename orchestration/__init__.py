"""Tally's Dagster code location (``workspace.yaml`` loads ``orchestration.definitions``)."""
