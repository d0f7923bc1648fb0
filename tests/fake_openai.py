"""A small OpenAI-compatible chat-completions server for tests: it replies from a script and records every request.

A script step is one reply: tool calls, an answer, an HTTP error, a reply that comes only after a delay (to
make the client time out), or none at all (the server holds the request until the client gives up). The tests
run the real ``openai`` client against it over loopback HTTP.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tally.background_server import serve_in_thread

MODEL = "fake-model"


@dataclass
class Recorded:
    """One request the server received."""

    headers: dict[str, str]
    body: dict[str, Any]
    raw: str

    def tool_results(self) -> list[dict[str, Any]]:
        """The JSON of every tool result in the conversation, in order."""
        return [json.loads(m["content"]) for m in self.body["messages"] if m["role"] == "tool"]


@dataclass
class FakeOpenAI:
    """The script to answer with and what was asked; ``url`` is the base URL to give the ``openai`` client."""

    url: str = ""
    script: list[dict[str, Any]] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)

    def reset(self) -> None:
        self.script.clear()
        self.requests.clear()

    def call_tools(self, *calls: tuple[str, dict[str, Any]], delay_seconds: float = 0) -> None:
        """Next reply: the model calls these tools, with these arguments, after ``delay_seconds``."""
        self.script.append({"tool_calls": list(calls), "delay": delay_seconds})

    def answer(self, text: str, delay_seconds: float = 0) -> None:
        """Next reply: this answer, after ``delay_seconds``."""
        self.script.append({"answer": text, "delay": delay_seconds})

    def fail(self, status: int) -> None:
        """Next reply: an HTTP error."""
        self.script.append({"status": status})

    def never_answer(self) -> None:
        """Next request, and every one after it: no reply; each is held until its client disconnects."""
        self.script.append({"hang": True})

    def everything_sent(self) -> str:
        """Every request body the server received, as one text to search."""
        return "\n".join(request.raw for request in self.requests)

    def written_by_caller(self) -> str:
        """Everything the caller wrote into its requests (the messages and tools), without the model's own messages
        that it sends back."""
        return "\n".join(
            json.dumps({**request.body, "messages": [m for m in request.body["messages"] if m["role"] != "assistant"]})
            for request in self.requests
        )

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def completions(request: Request) -> Any:
            raw = (await request.body()).decode()
            self.requests.append(Recorded(dict(request.headers), json.loads(raw), raw))
            step = self.script.pop(0) if self.script else {"answer": "(nothing scripted)"}
            if "hang" in step:
                self.script.insert(0, step)
                while not await request.is_disconnected():
                    await asyncio.sleep(0.05)
                return JSONResponse({}, status_code=499)
            if "status" in step:
                error = {"error": {"message": "scripted failure", "type": "server_error"}}
                return JSONResponse(error, status_code=step["status"])
            await asyncio.sleep(step.get("delay", 0))
            return completion(step)

        return app


def completion(step: dict[str, Any]) -> dict[str, Any]:
    """A chat.completion object for one script step."""
    message: dict[str, Any] = {"role": "assistant", "content": step.get("answer")}
    if "tool_calls" in step:
        message["tool_calls"] = [
            {"id": f"call_{n}", "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}
            for n, (name, arguments) in enumerate(step["tool_calls"])
        ]
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": MODEL,
        "choices": [
            {"index": 0, "message": message, "finish_reason": "tool_calls" if "tool_calls" in step else "stop"}
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


@contextmanager
def serve_fake_openai() -> Iterator[FakeOpenAI]:
    """The fake server on a free loopback port."""
    fake = FakeOpenAI()
    with serve_in_thread(fake.app()) as url:
        fake.url = f"{url}/v1"
        yield fake
