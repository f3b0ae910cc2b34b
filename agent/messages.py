"""Chat messages inside the loop (pydantic), turned into OpenAI wire dicts only at the client."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class ToolCallRequest(BaseModel):
    """One tool call as the model wrote it: `arguments` is raw JSON text, not yet trusted."""

    model_config = ConfigDict(extra="forbid")

    id: str
    name: str
    arguments: str


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "user", "assistant", "tool"]
    content: str = ""
    tool_calls: list[ToolCallRequest] = []
    tool_call_id: str | None = None

    def wire(self) -> dict[str, Any]:
        data: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            data["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
                for call in self.tool_calls
            ]
        if self.tool_call_id is not None:
            data["tool_call_id"] = self.tool_call_id
        return data


class ModelTurn(BaseModel):
    """What one completion gave back."""

    text: str
    tool_calls: list[ToolCallRequest]
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    from_text: bool = False  # the call was read from the reply's text (textcalls)
