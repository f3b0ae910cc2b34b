"""The context budget keeps long sessions in a small window without breaking call/result pairs."""

from __future__ import annotations

from agent.context import estimate_tokens, fit
from agent.messages import Message, ToolCallRequest


def _session(steps: int, output_chars: int) -> list[Message]:
    messages = [Message(role="system", content="system"), Message(role="user", content="the task")]
    for i in range(steps):
        call = ToolCallRequest(id=f"c{i}", name="run", arguments=f'{{"command": "step {i}"}}')
        messages.append(Message(role="assistant", tool_calls=[call]))
        messages.append(
            Message(role="tool", tool_call_id=f"c{i}", content=f"out {i} " + "x" * output_chars)
        )
    return messages


def test_a_session_that_fits_is_left_alone() -> None:
    messages = _session(3, 10)
    assert fit(messages, 10_000) is messages


def test_old_tool_outputs_are_cut_first_and_recent_ones_kept_whole() -> None:
    messages = _session(10, 2_000)
    fitted = fit(messages, 4_000)
    assert estimate_tokens(fitted) <= 4_000
    assert len(fitted) == len(messages)
    assert "elided" in fitted[3].content
    assert fitted[-1].content == messages[-1].content


def test_when_cutting_is_not_enough_old_turns_become_a_summary_and_the_task_stays() -> None:
    messages = _session(200, 200)
    fitted = fit(messages, 3_000)
    assert estimate_tokens(fitted) <= 3_000
    assert fitted[1].content == "the task"
    assert fitted[2].content.startswith("Summary of earlier steps")
    assert fitted[3].role != "tool"
    kept_calls = {c.id for m in fitted for c in m.tool_calls}
    assert all(m.tool_call_id in kept_calls for m in fitted if m.role == "tool")


def test_one_newest_output_larger_than_the_window_is_cut_in_the_middle_to_fit() -> None:
    """Bench config_cli_limit: the model read a 300-line log first; the prompt never fit
    and the session ended after two steps."""
    log = "".join(
        f"2026-12-{n % 28 + 1:02d} 12:{n % 60:02d} ERROR disk {n % 4} is full\n" for n in range(300)
    )
    messages = _session(1, 10)
    messages[-1] = messages[-1].model_copy(update={"content": log})
    fitted = fit(messages, 2_000)
    assert estimate_tokens(fitted) <= 2_000
    kept = fitted[-1].content
    assert kept.startswith(log[:200]) and kept.endswith(log[-100:])
    assert "characters cut here to fit the model's window" in kept
    assert [m.role for m in fitted[-2:]] == ["assistant", "tool"]
