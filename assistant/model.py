"""The language model: one ``openai`` client for any OpenAI-compatible server, made once from settings.

Every failure of the server becomes a domain error with a message fit for callers (502, or 504 on a timeout);
the SDK's exception text is not passed on, as it may quote the request.
"""

from __future__ import annotations

import logging
from typing import Any

import openai
from openai.types.chat import ChatCompletionMessage

from tally.errors import ModelError, ModelTimeout
from tally.settings import Settings

log = logging.getLogger("tally.ai")
# A local OpenAI-compatible server often needs no key, but the SDK refuses to start without one.
NO_KEY = "not-needed"


class LanguageModel:
    """A chat model behind an ``openai`` client, with the settings that bound its use."""

    def __init__(self, client: openai.OpenAI, model: str, timeout_seconds: float, max_tool_rounds: int) -> None:
        self.client = client
        self.model = model
        self.timeout_seconds = timeout_seconds
        self.max_tool_rounds = max_tool_rounds

    def chat(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None, tool_choice: str = "auto"
    ) -> ChatCompletionMessage:
        """The model's next message; ``ModelTimeout`` or ``ModelError`` when the server fails."""
        options: dict[str, Any] = {"tools": tools, "tool_choice": tool_choice} if tools else {}
        try:
            response = self.client.chat.completions.create(model=self.model, messages=messages, **options)
        except openai.APITimeoutError:
            log.warning("model request timed out model=%s", self.model)
            raise ModelTimeout(f"The language model did not answer within {self.timeout_seconds:g} s") from None
        except openai.APIStatusError as exc:
            log.warning("model request failed model=%s status=%s", self.model, exc.status_code)
            raise ModelError(f"The language model's server answered with HTTP {exc.status_code}") from None
        except openai.APIConnectionError:
            log.warning("model server unreachable model=%s", self.model)
            raise ModelError("The language model's server could not be reached") from None
        except openai.APIError as exc:
            log.warning("model response unusable model=%s error=%s", self.model, type(exc).__name__)
            raise ModelError("The language model's server sent a response that could not be read") from None
        if not response.choices:
            raise ModelError("The language model returned no answer")
        return response.choices[0].message

    def reply(self, messages: list[dict[str, Any]]) -> str:
        """The text of the model's reply to ``messages`` (no tools); an empty reply is a ``ModelError``."""
        return reply_text(self.chat(messages).content)

    def close(self) -> None:
        """Close the client's connection pool."""
        self.client.close()


def reply_text(content: str | None) -> str:
    """A reply's text; an empty reply is the model's failure, not the caller's."""
    if not content or not content.strip():
        raise ModelError("The language model returned an empty answer")
    return content.strip()


def create_language_model(settings: Settings) -> LanguageModel | None:
    """The configured model, or None when ``TALLY_LLM_MODEL`` and a server (key or base URL) are not both set."""
    if not settings.llm_configured or settings.llm_model is None:
        return None
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else NO_KEY
    client = openai.OpenAI(
        api_key=key,
        base_url=settings.openai_base_url,
        timeout=settings.llm_timeout_seconds,
        max_retries=settings.llm_max_retries,
    )
    return LanguageModel(client, settings.llm_model, settings.llm_timeout_seconds, settings.llm_max_tool_rounds)
