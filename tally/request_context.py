"""The id of the API request being served, for whatever runs on its behalf: its log lines and the run requests it
writes (the sensor puts the id on the Dagster run, so one id follows a backfill from the API call to its runs).

A context variable, set by the API's request middleware for the request's task; FastAPI's thread pool copies
the context into the threads running sync dependencies and routes, so code below the API reads it without
every function passing it along. Outside a request it is None.
"""

from __future__ import annotations

from contextvars import ContextVar

REQUEST_ID: ContextVar[str | None] = ContextVar("tally_request_id", default=None)


def current_request_id() -> str | None:
    """The id of the API request this code runs for, or None outside one (the sensor, a schedule, the CLI)."""
    return REQUEST_ID.get()
