"""Structured logs of the API: one JSON object per line, one line per request, errors with their request id.

``JsonFormatter`` renders every record (uvicorn's too) as JSON, adding the request id of the request it was
logged during. A record's structured fields travel in ``extra={"fields": {...}}``. An exception is rendered as
its type and the frames it passed through, never its message: a driver's or a client library's message may
quote a URL, a credential or a token.
"""

from __future__ import annotations

import logging
import traceback
from datetime import UTC, datetime
from typing import Any

import orjson

from tally.request_context import current_request_id

REQUEST_LOGGER = "tally.api.requests"
log = logging.getLogger(REQUEST_LOGGER)


class JsonFormatter(logging.Formatter):
    """A log record as one line of JSON: time, level, logger, message, process, the request id, and the record's
    fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            # Which worker of ``tally api --workers N`` logged it.
            "pid": record.process,
        }
        request_id = current_request_id()
        if request_id is not None:
            entry["request_id"] = request_id
        entry.update(getattr(record, "fields", {}))
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__
            entry["frames"] = [
                f"{frame.filename}:{frame.lineno} {frame.name}" for frame in traceback.extract_tb(record.exc_info[2])
            ]
        return orjson.dumps(entry, default=str).decode()


def log_config(level: str = "info") -> dict[str, Any]:
    """The ``logging.config.dictConfig`` of ``tally api``: every logger, uvicorn's included, as JSON on stderr.

    uvicorn's access log is left off (``tally api`` passes ``access_log=False``): the request line below says
    more, in the same format.
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {
            name: {"handlers": [], "level": level.upper(), "propagate": True}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        }
        # Alembic announces each of its plugins at info when readiness first reads the migration scripts.
        | {"alembic": {"handlers": [], "level": "WARNING", "propagate": True}},
    }


def log_request(
    request_id: str, method: str, route: str | None, company_id: str | None, status: int, seconds: float
) -> None:
    """The one line a request leaves: its id, route template (never the raw path or query), company and outcome."""
    log.info(
        "request",
        extra={
            "fields": {
                "request_id": request_id,
                "method": method,
                "route": route,
                "company_id": company_id,
                "status": status,
                "duration_ms": round(seconds * 1000, 3),
            }
        },
    )
