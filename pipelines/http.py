"""The one HTTP layer all platform clients share: dlt's REST client on dlt's retrying session.

Retries (429 and 5xx, honouring ``Retry-After``; timeouts, dropped connections and bodies cut short) are dlt's,
paced by what the platform says of its budget (``pipelines.budget``: Google's ``retryDelay``, Meta's time to regain
access, a nearly full Shopify bucket), each wait recorded in the ``Budget`` of the load or test.
What is ours is turning a final failure into a domain error that names the platform and the cause and never holds
a token: tokens travel in headers only, and no exception text from ``requests`` (which may hold a URL) is passed on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import requests
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.paginators import BasePaginator
from requests.auth import AuthBase

from pipelines.budget import Budget, BudgetPacing, BudgetReader, PacedClient, json_or_none
from tally.errors import (
    PlatformAuthError,
    PlatformError,
    PlatformRateLimited,
    PlatformResponseError,
    PlatformUnavailable,
)
from tally.settings import Settings

RetryPredicate = Callable[[requests.Response | None, BaseException | None], bool]
ErrorReader = Callable[[requests.Response, Any], str | None]
ResponsePredicate = Callable[[requests.Response, Any], bool]


class HeaderAuth(AuthBase):
    """Puts credentials in headers of the request actually sent.

    Unlike client-wide ``headers``, these never show in dlt's DEBUG request log, which prints the headers
    and form data a RESTClient was given.
    """

    def __init__(self, headers: dict[str, str]) -> None:
        self._headers = headers

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers.update(self._headers)
        return request

    def __repr__(self) -> str:
        return f"HeaderAuth({', '.join(self._headers)})"


def is_retryable_status(response: requests.Response, body: Any) -> bool:
    """Throttling and server errors are worth another attempt."""
    return response.status_code == 429 or response.status_code >= 500


def is_throttle_status(response: requests.Response, body: Any) -> bool:
    """HTTP 429: the platform's budget is spent for now."""
    return response.status_code == 429


def no_budget_report(response: requests.Response, body: Any) -> None:
    """For platforms that report nothing of their budget beyond a throttle."""
    return None


class PlatformHTTP:
    """Makes REST clients for one platform and raises that platform's errors as domain errors.

    ``read_error(response, body)`` returns the platform's own error message for a failed response (or for
    a 200 that carries an error, as TikTok's do), or None when the response is fine. ``is_auth_error``
    says whether such a response means the credentials are bad; ``is_retryable`` whether it is worth another
    attempt (by default 429 and 5xx; TikTok adds its rate-limit codes that arrive in a 200). ``read_budget``
    turns what an answer says of the platform's budget into a ``BudgetReading`` and ``is_throttle`` says whether a
    retryable answer is a throttle (its wait is the budget's); both feed ``budget``, the readings and waits of the
    load or test this layer serves (a fresh one when none is given).

    Retryable responses are raised as ``requests.HTTPError`` from the response hook, so dlt's retrying session
    sees their status and ``Retry-After``; once its attempts run out ``translate_errors`` turns the last one
    into the domain error.
    """

    def __init__(
        self,
        platform: str,
        display_name: str,
        settings: Settings,
        read_error: ErrorReader,
        is_auth_error: ResponsePredicate,
        is_retryable: ResponsePredicate = is_retryable_status,
        retry_condition: RetryPredicate | None = None,
        read_budget: BudgetReader = no_budget_report,
        is_throttle: ResponsePredicate = is_throttle_status,
        budget: Budget | None = None,
    ) -> None:
        self.platform = platform
        self.display_name = display_name
        self.settings = settings
        self.budget = budget if budget is not None else Budget()
        self._read_error = read_error
        self._is_auth_error = is_auth_error
        self._is_retryable = is_retryable
        self._pacing = BudgetPacing(
            display_name, self.budget, read_budget, is_throttle, settings.http_max_retry_delay_seconds
        )
        conditions = [self._retry_predicate] + ([retry_condition] if retry_condition else [])
        self._retrying = PacedClient(
            self._pacing,
            raise_for_status=False,
            request_timeout=settings.http_timeout_seconds,
            request_max_attempts=settings.http_max_attempts,
            request_backoff_factor=settings.http_backoff_factor,
            request_max_retry_delay=settings.http_max_retry_delay_seconds,
            respect_retry_after_header=True,
            retry_condition=conditions,
        )

    @property
    def session(self) -> requests.Session:
        """The retrying session itself, for calls that must not pass through RESTClient's request log."""
        return self._retrying.session

    def _retry_predicate(self, response: requests.Response | None, exception: BaseException | None) -> bool:
        if response is None:
            return False
        body = json_or_none(response)
        return self._is_retryable(response, body) or _is_cut_short(response, body)

    def client(
        self,
        base_url: str,
        auth: AuthBase | None = None,
        headers: dict[str, str] | None = None,
        paginator: BasePaginator | None = None,
        data_selector: str | None = None,
    ) -> RESTClient:
        """A dlt REST client for this platform on the shared retrying session.

        Credentials go in ``auth`` (``HeaderAuth``), never in ``headers``, which dlt logs at DEBUG.
        """
        return RESTClient(
            base_url=base_url,
            headers=headers,
            auth=auth,
            paginator=paginator,
            data_selector=data_selector,
            session=self._retrying.session,
        )

    @property
    def hooks(self) -> dict[str, list[Callable[..., None]]]:
        """Response hooks for ``paginate``/``get``/``post`` that pace on the budget and raise domain errors."""
        return {"response": [self.check]}

    def error(self, kind: type[PlatformError], reason: str) -> PlatformError:
        """A domain error of this platform."""
        return kind(self.platform, self.display_name, reason)

    def check(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        """Record what the answer says of the budget (pausing if it asks), then raise the domain error a final
        response stands for; return quietly when it is fine."""
        body = json_or_none(response)
        retryable = self._is_retryable(response, body)
        self._pacing.observe(response, body, throttled=retryable)
        reason = self._read_error(response, body)
        if reason is None and response.ok:
            return
        if retryable:
            raise requests.HTTPError(f"{self.display_name}: HTTP {response.status_code}", response=response)
        self.raise_for(response, body, reason)

    def raise_for(self, response: requests.Response, body: Any, reason: str | None) -> None:
        """Raise the domain error of a failed final response."""
        reason = reason or f"HTTP {response.status_code}"
        if self._is_auth_error(response, body):
            raise self.error(PlatformAuthError, reason)
        if response.status_code == 429:
            raise self.error(PlatformRateLimited, f"rate limited after retries: {reason}")
        if response.status_code >= 500:
            raise self.error(PlatformUnavailable, f"server error after retries: {reason}")
        raise self.error(PlatformError, reason)

    def get_json(self, client: RESTClient, path: str, **kwargs: Any) -> Any:
        """One GET whose body is JSON, with errors translated."""
        with self.translate_errors():
            return client.get(path, hooks=self.hooks, **kwargs).json()

    def post_json(self, client: RESTClient, path: str, **kwargs: Any) -> Any:
        """One POST whose answer is JSON, with errors translated."""
        with self.translate_errors():
            return client.post(path, hooks=self.hooks, **kwargs).json()

    @contextmanager
    def translate_errors(self) -> Iterator[None]:
        """Turn transport and parsing failures into this platform's domain errors, without their text."""
        try:
            yield
        except PlatformError:
            raise
        except requests.HTTPError as exc:
            if exc.response is None:
                raise self.error(PlatformUnavailable, "the API failed without a response") from None
            body = json_or_none(exc.response)
            self.raise_for(exc.response, body, self._read_error(exc.response, body))
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise self.error(
                PlatformUnavailable,
                f"could not reach the API after {self.settings.http_max_attempts} attempts ({type(exc).__name__})",
            ) from None
        except (json.JSONDecodeError, requests.JSONDecodeError):
            raise self.error(PlatformResponseError, "the API answered with invalid JSON") from None


def _is_cut_short(response: requests.Response, body: Any) -> bool:
    """A successful answer whose body is not whole JSON: a transfer cut short, worth another attempt like a drop."""
    return response.ok and body is None and bool(response.content)
