"""The model client's request, as the model server receives it over HTTP."""

from __future__ import annotations

import pytest

from agent.messages import Message, ToolCallRequest
from agent.model_client import OpenAIModelClient, runaway
from agent.testing import Reply, ScriptedModelServer

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "run",
            "description": "Run a shell command line.",
            "parameters": {
                "type": "object",
                "properties": {"command": {"type": "string"}},
                "required": ["command"],
            },
        },
    }
]


def history() -> list[Message]:
    call = ToolCallRequest(id="call_1", name="run", arguments='{"command": "ls"}')
    return [
        Message(role="system", content="You are a coding agent."),
        Message(role="user", content="list the files"),
        Message(role="assistant", content="", tool_calls=[call]),
        Message(role="tool", content="exit code: 0 (ok)\nstdout:\na.txt", tool_call_id="call_1"),
    ]


def test_the_server_receives_the_whole_history_the_tools_and_the_sampling_as_sent() -> None:
    messages = history()
    with ScriptedModelServer([Reply.call("run", command="true")]) as server:
        client = OpenAIModelClient(server.base_url, "scripted-model", "key", 30.0, 0)
        client.sampling = {"temperature": 0.6, "top_k": 20}
        turn = client.complete(messages, TOOLS, "required")
    body = server.requests[-1]
    assert body["messages"] == [m.wire() for m in messages]
    assert body["tools"] == TOOLS
    assert body["tool_choice"] == "required"
    assert body["temperature"] == 0.6
    assert body["top_k"] == 20
    assert body["stream"] is True
    assert body["model"] == "scripted-model"
    assert [c.name for c in turn.tool_calls] == ["run"]


def test_several_answers_come_from_one_plain_request_with_their_usage() -> None:
    replies = [Reply(text=f"answer {n}", prompt_tokens=40, completion_tokens=5) for n in range(3)]
    with ScriptedModelServer(replies) as server:
        client = OpenAIModelClient(server.base_url, "scripted-model", "key", 30.0, 0)
        client.sampling = {"top_k": 20}
        answers = client.samples(history(), 3, 0.8, 500)
        client.close()
    assert answers.texts == ["answer 0", "answer 1", "answer 2"]
    assert len(server.requests) == 1
    body = server.requests[0]
    assert body["n"] == 3 and body["temperature"] == 0.8 and body["max_tokens"] == 500
    assert body["top_k"] == 20 and not body.get("stream") and "tools" not in body
    assert body["messages"] == [m.wire() for m in history()]
    assert answers.prompt_tokens == 40 and answers.completion_tokens == 5


def test_no_tools_are_sent_when_the_tool_choice_is_none() -> None:
    with ScriptedModelServer([Reply(text="hello")]) as server:
        client = OpenAIModelClient(server.base_url, "scripted-model", "key", 30.0, 0)
        turn = client.complete(history(), TOOLS, "none")
    body = server.requests[-1]
    assert "tools" not in body
    assert "tool_choice" not in body
    assert body["messages"][1] == {"role": "user", "content": "list the files"}
    assert turn.text == "hello"


@pytest.mark.parametrize(
    ("text", "cut"),
    [
        ('{"content": "import json' + "\\n" * 120, True),  # empty lines, as in the bench
        ("x = 1\n" + "    pass\n" * 100, True),  # one line over and over
        ("0, " * 300, True),
        ("the " * 50, False),  # text repeated 50 times may be test data: 800 characters at least
        ("0,0,0\\n" * 30, False),
        ("-" * 150, False),  # a rule line: long, but short of the limit
        ("abc" * 30, False),
        ("def f():\n    return 1\n" * 5, False),
    ],
)
def test_a_reply_running_away_in_repeats_is_told_apart_from_text(text: str, cut: bool) -> None:
    assert runaway(text) is cut
