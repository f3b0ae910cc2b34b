"""Capability probe at session start: which tool-call mode the server supports, and its context.

Order of preference: `required` (every turn is a call; structured outputs make the JSON
well-formed), then native `auto`, then the text fallback. Profiles or settings may force one.
"""

from __future__ import annotations

from typing import Any

import openai
from pydantic import BaseModel

from agent.errors import ModelUnavailable
from agent.messages import Message
from agent.model_client import OpenAIModelClient, ToolChoice
from agent.replicas import ReplicatedModelClient

_PING_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "ping",
        "description": "Answer the ping.",
        "parameters": {
            "type": "object",
            "properties": {"ok": {"type": "boolean"}},
            "required": ["ok"],
        },
    },
}
DEFAULT_CONTEXT = 8192


class Capabilities(BaseModel):
    mode: ToolChoice | None  # None: text fallback (no `tools` sent)
    context_tokens: int
    model: str
    probed: bool


def context_length(models: list[dict[str, Any]], model: str) -> int:
    for item in models:
        if item.get("id") == model and isinstance(item.get("max_model_len"), int):
            return int(item["max_model_len"])
    return DEFAULT_CONTEXT


def _answers_with_call(
    client: OpenAIModelClient | ReplicatedModelClient, choice: ToolChoice
) -> bool:
    try:
        turn = client.complete(
            [Message(role="user", content="Call the ping tool with ok=true.")],
            [_PING_TOOL],
            choice,
            max_tokens=32,
        )
    except ModelUnavailable as exc:
        if isinstance(exc.__cause__, openai.BadRequestError):
            return False
        raise
    return any(call.name == "ping" for call in turn.tool_calls)


def probe(client: OpenAIModelClient | ReplicatedModelClient, forced: str) -> Capabilities:
    models = client.list_models()
    context = context_length(models, client.model)
    if forced == "text":
        return Capabilities(mode=None, context_tokens=context, model=client.model, probed=False)
    if forced in ("required", "native"):
        mode: ToolChoice = "required" if forced == "required" else "auto"
        return Capabilities(mode=mode, context_tokens=context, model=client.model, probed=False)
    choices: tuple[ToolChoice, ...] = ("required", "auto")
    for choice in choices:
        if _answers_with_call(client, choice):
            return Capabilities(
                mode=choice, context_tokens=context, model=client.model, probed=True
            )
    return Capabilities(mode=None, context_tokens=context, model=client.model, probed=True)


def pick_model(client: OpenAIModelClient | ReplicatedModelClient) -> str:
    models = client.list_models()
    if not models:
        raise ModelUnavailable(
            f"{client.base_url} serves no model", hint="start one: `rempart model serve`"
        )
    return str(models[0]["id"])
