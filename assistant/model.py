"""The language model: one ``openai`` client for any OpenAI-compatible server, made once from settings.

Every failure of the server becomes a domain error with a message fit for callers (502, or 504 on a timeout);
the SDK's exception text is not passed on, as it may quote the request. Retries are ours, not the SDK's: the SDK
would give each attempt the whole timeout again, so a question's deadline could not bound them.

The SDK is imported where it is used: importing it costs about 0.4 s of CPU, which every Dagster run worker paid
on start (the definitions import this module for the weekly insight asset) though only insight runs call a model.
"""

from __future__ import annotations

import logging
import random
import time
from typing import TYPE_CHECKING, Any

from assistant.deadline import Deadline
from tally.errors import ModelError, ModelTimeout
from tally.settings import Settings

if TYPE_CHECKING:
    import openai
    from openai.types.chat import ChatCompletionMessage

log = logging.getLogger("tally.ai")
# A local OpenAI-compatible server often needs no key, but the SDK refuses to start without one.
NO_KEY = "not-needed"
# The SDK's own backoff: 0.5 s doubling up to 8 s, less up to 25% jitter; a server's Retry-After up to 2 minutes.
FIRST_RETRY_DELAY, LAST_RETRY_DELAY, LONGEST_RETRY_AFTER = 0.5, 8.0, 120.0
RETRIED_STATUSES = frozenset({408, 409, 429})


class LanguageModel:
    """A chat model behind an ``openai`` client, with the settings that bound its use."""

    def __init__(
        self, client: openai.OpenAI, model: str, timeout_seconds: float, max_tool_rounds: int, max_retries: int = 0
    ) -> None:
        self.client = client
        self.model = model
        self.timeout_seconds = timeout_seconds
        self.max_tool_rounds = max_tool_rounds
        self.max_retries = max_retries

    def chat(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str = "auto",
        deadline: Deadline | None = None,
    ) -> ChatCompletionMessage:
        """The model's next message, retried on timeouts, lost connections, 408, 409, 429 and 5xx.

        Each attempt waits at most the model timeout or the time ``deadline`` has left, whichever is shorter;
        past the deadline ``AnswerDeadlineExceeded``, else ``ModelTimeout`` or ``ModelError`` when the server fails.
        """
        import openai

        attempt = 0
        while True:
            timeout = self.timeout_seconds if deadline is None else min(self.timeout_seconds, deadline.check())
            try:
                return self.attempt(messages, tools, tool_choice, timeout)
            except openai.APIError as exc:
                cut_short = isinstance(exc, openai.APITimeoutError) and timeout < self.timeout_seconds
                if deadline is not None and (cut_short or deadline.left() <= 0):
                    raise deadline.exceeded() from None
                wait = retry_delay(exc, attempt) if attempt < self.max_retries else None
                # A retry that could not start before the deadline would only turn this failure into a 504.
                if wait is None or (deadline is not None and wait >= deadline.left()):
                    raise self.failure(exc) from None
                log.info("model request retried model=%s attempt=%d wait_s=%.2f", self.model, attempt + 1, wait)
                time.sleep(wait)
            attempt += 1

    def attempt(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None, tool_choice: str, timeout: float
    ) -> ChatCompletionMessage:
        """One request to the server (SDK errors pass through to ``chat``)."""
        options: dict[str, Any] = {"tools": tools, "tool_choice": tool_choice} if tools else {}
        response = self.client.chat.completions.create(model=self.model, messages=messages, timeout=timeout, **options)
        if not response.choices:
            raise ModelError("The language model returned no answer")
        return response.choices[0].message

    def failure(self, exc: openai.APIError) -> ModelError:
        """The domain error for the SDK's, logged without its text."""
        import openai

        if isinstance(exc, openai.APITimeoutError):
            log.warning("model request timed out model=%s", self.model)
            return ModelTimeout(f"The language model did not answer within {self.timeout_seconds:g} s")
        if isinstance(exc, openai.APIStatusError):
            log.warning("model request failed model=%s status=%s", self.model, exc.status_code)
            return ModelError(f"The language model's server answered with HTTP {exc.status_code}")
        if isinstance(exc, openai.APIConnectionError):
            log.warning("model server unreachable model=%s", self.model)
            return ModelError("The language model's server could not be reached")
        log.warning("model response unusable model=%s error=%s", self.model, type(exc).__name__)
        return ModelError("The language model's server sent a response that could not be read")

    def reply(self, messages: list[dict[str, Any]], deadline: Deadline | None = None) -> str:
        """The text of the model's reply to ``messages`` (no tools); an empty reply is a ``ModelError``."""
        return reply_text(self.chat(messages, deadline=deadline).content)

    def close(self) -> None:
        """Close the client's connection pool."""
        self.client.close()


def retry_delay(exc: openai.APIError, attempt: int) -> float | None:
    """How long to wait before retrying after ``exc`` (the ``attempt``-th, from 0), or None when it is not retried:
    the server's ``Retry-After`` when it gives one, else exponential backoff."""
    import openai

    if isinstance(exc, openai.APIConnectionError):  # timeouts included
        return backoff(attempt)
    if not isinstance(exc, openai.APIStatusError):
        return None
    should_retry = exc.response.headers.get("x-should-retry")
    if should_retry == "false" or (should_retry != "true" and not retried_status(exc.status_code)):
        return None
    retry_after = seconds_header(exc.response.headers.get("retry-after"))
    if retry_after is not None and retry_after > LONGEST_RETRY_AFTER:
        return None
    return retry_after if retry_after is not None and retry_after > 0 else backoff(attempt)


def retried_status(status: int) -> bool:
    return status in RETRIED_STATUSES or status >= 500


def backoff(attempt: int) -> float:
    return min(FIRST_RETRY_DELAY * 2.0**attempt, LAST_RETRY_DELAY) * (1 - 0.25 * random.random())


def seconds_header(value: str | None) -> float | None:
    """A ``Retry-After`` in seconds; an HTTP date (rare from model servers) is treated as absent."""
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def reply_text(content: str | None) -> str:
    """A reply's text; an empty reply is the model's failure, not the caller's."""
    if not content or not content.strip():
        raise ModelError("The language model returned an empty answer")
    return content.strip()


def create_language_model(settings: Settings) -> LanguageModel | None:
    """The configured model, or None when ``TALLY_LLM_MODEL`` and a server (key or base URL) are not both set."""
    if not settings.llm_configured or settings.llm_model is None:
        return None
    import openai

    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else NO_KEY
    client = openai.OpenAI(
        api_key=key, base_url=settings.openai_base_url, timeout=settings.llm_timeout_seconds, max_retries=0
    )
    return LanguageModel(
        client,
        settings.llm_model,
        settings.llm_timeout_seconds,
        settings.llm_max_tool_rounds,
        settings.llm_max_retries,
    )
