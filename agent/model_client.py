"""The model client: OpenAI chat-completions over HTTP (vLLM, llama.cpp's server, ...).

Streaming, native tools, timeouts, `trust_env` off so a proxy in the environment never sees
prompts. A request that fails for a reason a retry can fix (the server unreachable, a 5xx
or 429, the stream cut mid-way by a dying server) is retried `retries` times with
exponential backoff (0.5 s, 1 s, 2 s, ... at most 8 s); then, or at once for any other
failure, it becomes `ModelUnavailable`, a person's problem: the session stops cleanly and
can be resumed.
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
import re
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any, Literal, Protocol, TypeVar

import httpx2
import openai
from pydantic import BaseModel

from agent.context import CHARS_PER_TOKEN as PER_TOKEN
from agent.errors import ContextOverflow, ModelUnavailable
from agent.messages import Message, ModelTurn, ToolCallRequest

ToolChoice = Literal["required", "auto", "none"]
# openai 3's HTTP library (httpx2): errors raised while a stream is read may come from it
# directly rather than wrapped in openai.APIError.
TRANSPORT_ERRORS: tuple[type[Exception], ...] = (openai.APIError, httpx2.HTTPError)
OnText = Callable[[str], None]
T = TypeVar("T")
log = logging.getLogger(__name__)
BACKOFF_S = 0.5
BACKOFF_MAX_S = 8.0
RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
RUNAWAY = "runaway"  # the finish reason of a reply cut off here for repeating itself
RUNAWAY_TAIL = re.compile(r"(.{1,40}?)\1{19,}$", re.DOTALL)  # a unit, 20 times or more
RUNAWAY_CHARS = 200  # ... and this long at least, when the unit is blank (spaces, line breaks)
RUNAWAY_TEXT_CHARS = 800  # ... when it is text (`the ` 50 times may be test data)
BLANK = re.compile(r"^(\s|\\[nt])+$")  # also `\n` as JSON writes it in a call's arguments
RUNAWAY_LOOK = 1000  # characters at the end looked at
RUNAWAY_STEP = 128  # characters received between two looks


class ModelClient(Protocol):
    model: str
    base_url: str

    def complete(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]],
        tool_choice: ToolChoice,
        on_text: OnText | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> ModelTurn: ...

    def samples(
        self, messages: list[Message], n: int, temperature: float, max_tokens: int
    ) -> Samples: ...


class Samples(BaseModel):
    """`n` answers to one prompt, in plain text (no tools): the candidates of a search."""

    texts: list[str]
    prompt_tokens: int
    completion_tokens: int
    seconds: float


class _Call:
    def __init__(self) -> None:
        self.id = ""
        self.name = ""
        self.arguments = ""


@functools.cache
def _tls() -> ssl.SSLContext:
    """The CA store, loaded once per process (20 ms or more each time): every client shares
    it, as httpx would build it for `trust_env=False`."""
    return httpx2.create_ssl_context(trust_env=False)


class OpenAIModelClient:
    def __init__(
        self, base_url: str, model: str, api_key: str, timeout_s: float, retries: int
    ) -> None:
        self.base_url = base_url
        self.model = model
        self.sampling: dict[str, float] = {}  # from the serving profile (agent.session)
        self._http = openai.DefaultHttpxClient(
            trust_env=False, timeout=openai.Timeout(timeout_s, connect=10.0), verify=_tls()
        )
        self.retries = retries
        # retries are ours (`_retrying`): the SDK's would not cover a stream cut mid-way
        self._client = openai.OpenAI(
            base_url=base_url, api_key=api_key, max_retries=0, http_client=self._http
        )

    def close(self) -> None:
        self._http.close()

    def list_models(self) -> list[dict[str, Any]]:
        page = self._retrying(self._client.models.list)
        return [item.model_dump() for item in page.data]

    def _retrying(self, request: Callable[[], T]) -> T:
        """`request()`, retried with backoff while a retry can help; else ModelUnavailable."""
        attempt = 0
        while True:
            try:
                return request()
            except TRANSPORT_ERRORS as exc:
                if attempt >= self.retries or not retryable(exc):
                    log.warning("model call to %s failed: %r", self.base_url, exc)
                    raise _unavailable(self.base_url, exc, attempt + 1) from exc
                log.info("model call to %s failed (%r); retrying", self.base_url, exc)
                threading.Event().wait(min(BACKOFF_S * 2**attempt, BACKOFF_MAX_S))
                attempt += 1

    def complete(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]],
        tool_choice: ToolChoice,
        on_text: OnText | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> ModelTurn:
        started = time.monotonic()
        request: dict[str, Any] = {
            "model": self.model,
            "messages": [],  # sent in `extra_body`, below
            "stream": True,
            "stream_options": {"include_usage": True},
            "temperature": 0.2,
        }
        # The history and the tool schemas are plain JSON already (`Message.wire`): they go
        # in `extra_body`, which the SDK sends as it is. Passed as `messages=`/`tools=`, the
        # SDK's type-driven transform walks them on every call: 24 ms at 140 messages against
        # 0.2 ms for json.dumps, so quadratic over a long session (bench/results/scale-*.md).
        body: dict[str, Any] = {"messages": [m.wire() for m in messages]}
        body.update({k: v for k, v in self.sampling.items() if k not in ("temperature", "top_p")})
        request.update({k: v for k, v in self.sampling.items() if k in ("temperature", "top_p")})
        if tools and tool_choice != "none":
            body["tools"] = tools
            request["tool_choice"] = tool_choice
        request["extra_body"] = body
        if max_tokens is not None:
            request["max_tokens"] = max_tokens
        if temperature is not None:  # this turn only (the loop's way out of a repeat)
            request["temperature"] = temperature
        tries = itertools.count()
        # a retry is not streamed: what the first attempt showed is not shown twice
        return self._retrying(
            lambda: self._stream(request, on_text if next(tries) == 0 else None, started)
        )

    def samples(
        self, messages: list[Message], n: int, temperature: float, max_tokens: int
    ) -> Samples:
        """`n` answers at once, not streamed: one request, so the server computes the shared
        prompt once (vLLM's `n`)."""
        started = time.monotonic()
        body: dict[str, Any] = {"messages": [m.wire() for m in messages]}
        own = ("temperature", "top_p", "n", "max_tokens")  # this request's, not the profile's
        body.update({k: v for k, v in self.sampling.items() if k not in own})
        reply = self._retrying(
            lambda: self._client.chat.completions.create(
                model=self.model,
                messages=[],  # in `extra_body`, as for `complete`
                n=n,
                temperature=temperature,
                max_tokens=max_tokens,
                extra_body=body,
            )
        )
        usage = reply.usage
        return Samples(
            texts=[choice.message.content or "" for choice in reply.choices],
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            seconds=time.monotonic() - started,
        )

    def _stream(self, request: dict[str, Any], on_text: OnText | None, started: float) -> ModelTurn:
        text: list[str] = []
        calls: dict[int, _Call] = {}
        finish_reason: str | None = None
        usage = (0, 0)
        stream = self._client.chat.completions.create(**request)
        received = looked_at = 0  # characters received; when last looked at for a runaway
        for chunk in stream:
            if chunk.usage is not None:
                usage = (chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
            for choice in chunk.choices:
                finish_reason = choice.finish_reason or finish_reason
                delta = choice.delta
                if delta.content:
                    text.append(delta.content)
                    received += len(delta.content)
                    if on_text is not None:
                        on_text(delta.content)
                for part in delta.tool_calls or []:
                    call = calls.setdefault(part.index, _Call())
                    call.id = part.id or call.id
                    if part.function is not None:
                        call.name += part.function.name or ""
                        call.arguments += part.function.arguments or ""
                        received += len(part.function.arguments or "")
            if received - looked_at >= RUNAWAY_STEP:
                looked_at = received
                if any(runaway(t) for t in ["".join(text), *(c.arguments for c in calls.values())]):
                    stream.close()  # the server stops generating when the client goes
                    finish_reason = RUNAWAY
                    # the server's usage comes in the last chunk, never read: estimated
                    sent = len(json.dumps(request.get("extra_body", {})))
                    guess = (int(sent / PER_TOKEN), int(received / PER_TOKEN))
                    usage = (usage[0] or guess[0], usage[1] or guess[1])
                    break
        log.debug(
            "model call: %d prompt + %d completion tokens in %.2f s",
            usage[0],
            usage[1],
            time.monotonic() - started,
        )
        return ModelTurn(
            text="".join(text),
            tool_calls=[
                ToolCallRequest(id=c.id or f"call_{i}", name=c.name, arguments=c.arguments)
                for i, c in sorted(calls.items())
            ],
            finish_reason=finish_reason,
            prompt_tokens=usage[0],
            completion_tokens=usage[1],
            seconds=time.monotonic() - started,
        )


def runaway(text: str) -> bool:
    """Whether a reply ends in one short piece repeated past any use (the 1.5B model wrote
    `\\n` over and over into a write_file call until the 1,024-token limit, 219 s on this
    CPU, in convert_litgpt_to_hf): a unit of up to 40 characters (a line), 20 times or
    more in a row at the end, over RUNAWAY_CHARS characters when the unit is blank and
    RUNAWAY_TEXT_CHARS otherwise."""
    found = RUNAWAY_TAIL.search(text[-RUNAWAY_LOOK:])
    if found is None:
        return False
    blank = BLANK.match(found.group(1)) is not None
    return len(found.group(0)) >= (RUNAWAY_CHARS if blank else RUNAWAY_TEXT_CHARS)


def retryable(exc: Exception) -> bool:
    """Could the same request succeed later (not a refusal of the request itself)?"""
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in RETRYABLE_STATUS
    return True  # unreachable, timed out, or the stream cut mid-way


def _unavailable(base_url: str, exc: Exception, attempts: int = 1) -> ModelUnavailable:
    if isinstance(exc, openai.APIStatusError):
        detail = f"HTTP {exc.status_code}: {str(exc.message)[:300]}"
        if exc.status_code == 400 and "context length" in str(exc.message):
            return ContextOverflow(f"the prompt is longer than the model's window: {detail}")
    else:
        detail = f"{type(exc).__name__}: {str(exc)[:300]}"
    tries = f" (after {attempts} attempts)" if attempts > 1 else ""
    return ModelUnavailable(
        f"the model server at {base_url} failed{tries}: {detail}",
        hint="check `rempart model status`; the session is saved: `rempart sessions resume ID`",
    )
