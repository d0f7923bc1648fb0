"""The Dagster run tags Tally writes and reads: plain strings, so the API, the demo and the runs share them without
importing the Dagster graph (the UI filters runs by them)."""

from __future__ import annotations

TAG_COMPANY = "tally/company_id"
TAG_PLATFORM = "tally/platform"
TAG_REQUEST = "tally/request_id"
# The X-Request-ID of the API call that asked for the run: the id its request log line carries.
TAG_API_REQUEST = "tally/api_request_id"
# The marts step of a request: the progress entry beside the platforms.
MARTS_STEP = "marts"
