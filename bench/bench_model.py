"""Tool-call validity, time to first token and tokens/s of the model server.

30 fixed single-step prompts, each with one obviously right tool. A call is valid when it is
well-formed JSON for the right tool with the required arguments. Run twice: with
`tool_choice=required` (what Rempart uses for this model) and with `auto` plus Rempart's text
fallback parser (what an engine without `required` would get). The baseline for speed is the
same server answering a one-token request, measured in the same run.

    .venv/bin/python bench/bench_model.py [--base-url URL] [--model NAME]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import httpx

from agent import textcalls
from agent.messages import Message
from agent.model_client import OpenAIModelClient, ToolChoice
from agent.probe import pick_model
from agent.repair import ArgumentsError, parse_arguments
from agent.session import system_prompt
from agent.tools import TOOLS

PROMPTS: list[tuple[str, str, set[str]]] = [
    ("Show me the contents of setup.py.", "read_file", {"path"}),
    ("Read lines 10 to 20 of src/app.py.", "read_file", {"path"}),
    ("Open README.md so we can look at it.", "read_file", {"path"}),
    ("What is in config/settings.toml?", "read_file", {"path"}),
    ("Print the file docs/index.md.", "read_file", {"path"}),
    ("Create hello.py that prints hello.", "write_file", {"path", "content"}),
    ("Write a file notes.txt containing the word done.", "write_file", {"path", "content"}),
    ("Create an empty __init__.py in the pkg folder.", "write_file", {"path", "content"}),
    ("Make a new file greet.sh that echoes hi.", "write_file", {"path", "content"}),
    ("Write requirements.txt listing requests.", "write_file", {"path", "content"}),
    (
        "You already read app.py; it has the line `DEBUG = True`. Change it to `DEBUG = False`.",
        "edit_file",
        {"path", "old", "new"},
    ),
    (
        "You already read main.py; it contains `port = 80`. Make it `port = 8080`.",
        "edit_file",
        {"path", "old", "new"},
    ),
    (
        "You already read lib.py. Rename the function: replace `def foo(` with `def bar(`.",
        "edit_file",
        {"path", "old", "new"},
    ),
    (
        "You already read setup.cfg; replace `version = 1.0` with `version = 1.1` in it.",
        "edit_file",
        {"path", "old", "new"},
    ),
    (
        "You already read net.py; fix the typo `recieve` -> `receive` (it occurs once).",
        "edit_file",
        {"path", "old", "new"},
    ),
    ("List all files in the project.", "list_files", set()),
    ("What files are in the tests folder?", "list_files", set()),
    ("List the Python files under src.", "list_files", set()),
    ("Show me which files exist in docs/.", "list_files", set()),
    ("Search the code for TODO comments.", "grep", {"pattern"}),
    ("Find where the function parse_args is defined.", "grep", {"pattern"}),
    ("Look for the string 'password' in all files.", "grep", {"pattern"}),
    ("Find every import of requests in Python files.", "grep", {"pattern"}),
    ("Run the test suite with pytest.", "run", {"command"}),
    ("Run python3 hello.py.", "run", {"command"}),
    ("Check the installed Python version.", "run", {"command"}),
    ("Run `ls -la` to see the folder.", "run", {"command"}),
    ("Execute make build.", "run", {"command"}),
    (
        "The task is complete: hello.py prints hello and was checked. End the task.",
        "finish",
        {"summary"},
    ),
    ("Everything is done and the tests pass. Finish with a summary.", "finish", {"summary"}),
]


def valid(name: str, arguments: str, want: str, required: set[str]) -> bool:
    if name != want:
        return False
    try:
        args, _ = parse_arguments(arguments)
    except ArgumentsError:
        return False
    args, _ = TOOLS[want].repair(args)  # the loop applies the same unambiguous repairs
    try:
        TOOLS[want].parse(args)
    except ValueError:
        return False
    return required <= set(args)


def run_mode(client: OpenAIModelClient, choice: ToolChoice) -> tuple[float, list[float], int]:
    schemas = [tool.schema() for tool in TOOLS.values()]
    good, seconds, tokens = 0, [], 0
    for prompt, want, required in PROMPTS:
        messages = [
            Message(role="system", content=system_prompt()),
            Message(role="user", content=prompt),
        ]
        turn = client.complete(messages, schemas, choice, max_tokens=200)
        calls = turn.tool_calls or textcalls.parse(turn.text)
        ok = bool(calls) and valid(calls[0].name, calls[0].arguments, want, required)
        good += ok
        if not ok:
            got = f"{calls[0].name} {calls[0].arguments[:80]}" if calls else repr(turn.text[:80])
            print(f"  [{choice}] miss: {prompt!r} wanted {want}, got {got}")
        seconds.append(turn.seconds)
        tokens += turn.completion_tokens
    return good / len(PROMPTS), seconds, tokens


def ttft(base_url: str, model: str, api_key: str) -> tuple[float, float, int]:
    """(time to first token, total seconds, completion tokens) of one streamed answer."""
    body: dict[str, Any] = {
        "model": model,
        "stream": True,
        "max_tokens": 128,
        "temperature": 0,
        "messages": [
            {"role": "user", "content": "Write a Python function that reverses a string."}
        ],
        "stream_options": {"include_usage": True},
    }
    start, first, tokens = time.monotonic(), 0.0, 0
    with (
        httpx.Client(trust_env=False, timeout=300) as http,
        http.stream(
            "POST",
            f"{base_url}/chat/completions",
            json=body,
            headers={"authorization": f"Bearer {api_key}"},
        ) as response,
    ):
        for line in response.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if chunk.get("choices") and chunk["choices"][0]["delta"].get("content") and not first:
                first = time.monotonic() - start
            if chunk.get("usage"):
                tokens = chunk["usage"]["completion_tokens"]
    return first, time.monotonic() - start, tokens


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", default="http://127.0.0.1:8011/v1")
    parser.add_argument("--model", default="")
    parser.add_argument("--api-key", default="rempart-local")
    args = parser.parse_args()
    client = OpenAIModelClient(args.base_url, args.model, args.api_key, 300, 0)
    client.model = args.model or pick_model(client)
    baseline = client.complete(
        [Message(role="user", content="Say ok.")], [], "none", max_tokens=1
    ).seconds
    first, total, tokens = ttft(args.base_url, client.model, args.api_key)
    print(f"model {client.model} at {args.base_url}")
    print(f"one-token request (baseline): {baseline * 1000:.0f} ms")
    print(f"time to first token: {first * 1000:.0f} ms ({first / baseline:.2f}x baseline)")
    print(
        f"decode: {tokens} tokens in {total:.1f} s = "
        f"{tokens / max(total - first, 1e-9):.1f} tokens/s"
    )
    for choice in ("required", "auto"):
        rate, seconds, out = run_mode(client, choice)  # type: ignore[arg-type]
        label = "required" if choice == "required" else "auto + text fallback"
        print(
            f"tool-call validity, {label}: {rate * 100:.0f}% of {len(PROMPTS)} "
            f"(p50 {statistics.median(seconds):.1f} s per call, {out} tokens, "
            f"{statistics.median(seconds) / baseline:.1f}x baseline)"
        )
    client.close()


if __name__ == "__main__":
    main()
