"""The model client: OpenAI chat-completions over HTTP (vLLM, llama.cpp's server, ...).

Streaming, native tools, timeouts and retries with backoff (the SDK's), `trust_env` off so a
proxy in the environment never sees prompts. Failures become `ModelUnavailable`, a person's
problem: the session stops cleanly and can be resumed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Literal, Protocol

import httpx2
import openai

from agent.errors import ContextOverflow, ModelUnavailable
from agent.messages import Message, ModelTurn, ToolCallRequest

ToolChoice = Literal["required", "auto", "none"]
# openai 3's HTTP library (httpx2): errors raised while a stream is read may come from it
# directly rather than wrapped in openai.APIError.
TRANSPORT_ERRORS: tuple[type[Exception], ...] = (openai.APIError, httpx2.HTTPError)
OnText = Callable[[str], None]
log = logging.getLogger(__name__)


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
    ) -> ModelTurn: ...


class _Call:
    def __init__(self) -> None:
        self.id = ""
        self.name = ""
        self.arguments = ""


class OpenAIModelClient:
    def __init__(
        self, base_url: str, model: str, api_key: str, timeout_s: float, retries: int
    ) -> None:
        self.base_url = base_url
        self.model = model
        self.sampling: dict[str, float] = {}  # from the serving profile (agent.session)
        self._http = openai.DefaultHttpxClient(
            trust_env=False, timeout=openai.Timeout(timeout_s, connect=10.0)
        )
        self._client = openai.OpenAI(
            base_url=base_url, api_key=api_key, max_retries=retries, http_client=self._http
        )

    def close(self) -> None:
        self._http.close()

    def list_models(self) -> list[dict[str, Any]]:
        try:
            page = self._client.models.list()
        except openai.APIError as exc:
            raise _unavailable(self.base_url, exc) from exc
        return [item.model_dump() for item in page.data]

    def complete(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]],
        tool_choice: ToolChoice,
        on_text: OnText | None = None,
        max_tokens: int | None = None,
    ) -> ModelTurn:
        started = time.monotonic()
        request: dict[str, Any] = {
            "model": self.model,
            "messages": [m.wire() for m in messages],
            "stream": True,
            "stream_options": {"include_usage": True},
            "temperature": 0.2,
        }
        extra = {k: v for k, v in self.sampling.items() if k not in ("temperature", "top_p")}
        request.update({k: v for k, v in self.sampling.items() if k in ("temperature", "top_p")})
        if extra:
            request["extra_body"] = extra
        if tools and tool_choice != "none":
            request.update(tools=tools, tool_choice=tool_choice)
        if max_tokens is not None:
            request["max_tokens"] = max_tokens
        text: list[str] = []
        calls: dict[int, _Call] = {}
        finish_reason: str | None = None
        usage = (0, 0)
        try:
            for chunk in self._client.chat.completions.create(**request):
                if chunk.usage is not None:
                    usage = (chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                for choice in chunk.choices:
                    finish_reason = choice.finish_reason or finish_reason
                    delta = choice.delta
                    if delta.content:
                        text.append(delta.content)
                        if on_text is not None:
                            on_text(delta.content)
                    for part in delta.tool_calls or []:
                        call = calls.setdefault(part.index, _Call())
                        call.id = part.id or call.id
                        if part.function is not None:
                            call.name += part.function.name or ""
                            call.arguments += part.function.arguments or ""
        except TRANSPORT_ERRORS as exc:
            log.warning("model call to %s failed: %r", self.base_url, exc)
            raise _unavailable(self.base_url, exc) from exc
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


def _unavailable(base_url: str, exc: Exception) -> ModelUnavailable:
    if isinstance(exc, openai.APIStatusError):
        detail = f"HTTP {exc.status_code}: {str(exc.message)[:300]}"
        if exc.status_code == 400 and "context length" in str(exc.message):
            return ContextOverflow(f"the prompt is longer than the model's window: {detail}")
    else:
        detail = f"{type(exc).__name__}: {str(exc)[:300]}"
    return ModelUnavailable(
        f"the model server at {base_url} failed: {detail}",
        hint="check `rempart model status`; the session is saved: `rempart sessions resume ID`",
    )
