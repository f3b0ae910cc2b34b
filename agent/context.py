"""Context budget: keep a long session inside a small model's window.

First old tool outputs are cut to a stub (the newest stay whole), then the oldest turns are
replaced by a mechanical summary of what was done, and last, when one output alone is larger
than the window (a whole log file read at once), the largest outputs are cut in the middle.
The system prompt and the task stay.
No model call is spent on summarising.
"""

from __future__ import annotations

from agent.messages import Message

CHARS_PER_TOKEN = 2.8  # code and JSON tokenise denser than prose; err on the short side
KEEP_RECENT_TOOL_OUTPUTS = 3
STUB_CHARS = 300


def estimate_tokens(messages: list[Message]) -> int:
    chars = sum(
        len(m.content) + sum(len(c.arguments) + 20 for c in m.tool_calls) + 8 for m in messages
    )
    return int(chars / CHARS_PER_TOKEN)


def _stub(message: Message) -> Message:
    if len(message.content) <= STUB_CHARS:
        return message
    cut = len(message.content) - STUB_CHARS
    text = f"{message.content[:STUB_CHARS]}\n[older output elided: {cut} characters]"
    return message.model_copy(update={"content": text})


def _summary(dropped: list[Message], max_chars: int) -> Message:
    """What the dropped turns did, newest kept when it must be cut: at most `max_chars`."""
    lines: list[str] = []
    for message in dropped:
        for call in message.tool_calls:
            lines.append(f"- called {call.name} {call.arguments[:120]}")
        if message.role == "tool" and message.content:
            lines.append(f"  -> {message.content.splitlines()[0][:120]}")
    kept: list[str] = []
    used = 0
    for line in reversed(lines):
        used += len(line) + 1
        if used > max_chars:
            break
        kept.append(line)
    head = "Summary of earlier steps (elided to fit the context window):"
    if len(kept) < len(lines):
        head += f" [{len(lines) - len(kept)} older lines not shown]"
    return Message(role="user", content="\n".join([head, *reversed(kept)]))


def fit(messages: list[Message], budget_tokens: int) -> list[Message]:
    """A copy of `messages` that fits `budget_tokens` (by estimate)."""
    if estimate_tokens(messages) <= budget_tokens:
        return messages
    tool_indexes = [i for i, m in enumerate(messages) if m.role == "tool"]
    old = set(tool_indexes[:-KEEP_RECENT_TOOL_OUTPUTS])
    trimmed = [_stub(m) if i in old else m for i, m in enumerate(messages)]
    if estimate_tokens(trimmed) <= budget_tokens:
        return trimmed
    head, body = trimmed[:2], trimmed[2:]
    summary_chars = int(budget_tokens * CHARS_PER_TOKEN / 4)
    cut = 0
    while cut < len(body) - 2 and estimate_tokens(head + body[cut:]) > budget_tokens * 3 // 4:
        cut += 1
    # never start the kept part with tool results whose assistant call was dropped
    while cut < len(body) and body[cut].role == "tool":
        cut += 1
    return _shorten_outputs(
        [*head, _summary(body[:cut], summary_chars), *body[cut:]], budget_tokens
    )


def _shorten_outputs(messages: list[Message], budget_tokens: int) -> list[Message]:
    """Still too long (one newest tool output larger than the window, e.g. a whole log
    file): cut the largest tool outputs in the middle, head and tail kept, until it fits."""
    out = list(messages)
    while (excess := estimate_tokens(out) - budget_tokens) > 0:
        tools = [i for i, m in enumerate(out) if m.role == "tool" and len(m.content) > STUB_CHARS]
        if not tools:
            return out
        i = max(tools, key=lambda n: len(out[n].content))
        text = out[i].content
        keep = max(len(text) - int(excess * CHARS_PER_TOKEN) - 200, STUB_CHARS)
        head, tail = text[: keep * 2 // 3], text[len(text) - keep // 3 :]
        note = (
            f"\n[{len(text) - len(head) - len(tail)} characters cut here to fit the model's "
            "window: read a smaller part (read_file start/end) or search with grep]\n"
        )
        out[i] = out[i].model_copy(update={"content": head + note + tail})
    return out
