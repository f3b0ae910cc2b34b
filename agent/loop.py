"""The loop: model turn -> tool calls -> policy -> (approval) -> sandbox -> observation.

Every turn should be a tool call (`finish` ends the task); a turn without one is nudged, a
malformed call goes back to the model as an error, and nothing the sandbox prints can end
the loop (only the `finish` tool, a limit, a stop request or a dead model server do).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from agent import textcalls
from agent.context import CHARS_PER_TOKEN, fit
from agent.energy import EnergyMeter, joules_per_1k, open_meter
from agent.errors import ContextOverflow
from agent.events import (
    AssistantDelta,
    AssistantText,
    CheckRecord,
    Event,
    FinishEvent,
    NoticeEvent,
    ToolCallEvent,
    UsageEvent,
)
from agent.evidence import Evidence
from agent.finishing import Finisher
from agent.messages import Message, ModelTurn, ToolCallRequest
from agent.model_client import RUNAWAY, ModelClient, ToolChoice
from agent.repair import ArgumentsError, parse_arguments
from agent.runner import CallRunner
from agent.search import ROUND_SECONDS, Search, SearchHooks
from agent.tools.base import ToolLike, ToolOutput
from agent.tools.write_file import current_bytes

MAX_NUDGES = 3
REREAD_LIMIT = 2  # the same unchanged text read twice: the model is told reading cannot help
REPEAT_LIMIT = 3  # the same call this many times lately: the model is told to change course
STUCK_LIMIT = 6  # ... and this many times: the session ends, failed
LOOP_WINDOW = 12  # calls looked at for a loop
UNSTICK_TEMPERATURE = 0.8  # the turn after a repeated call (aids on)
RESAMPLES = 2  # a call that failed before, sent again unchanged: asked again this often
SEARCH_RESERVE_S = 2 * ROUND_SECONDS  # time kept for two rounds of the search
CHANGING_TOOLS = ("edit_file", "write_file", "rename_symbol")
SANDBOX_FAILED = "error: the sandbox"  # a failure that the same call may not meet again
CHECK_CALL = ToolCallRequest(id="final-check", name="check", arguments="{}")


class Interrupted(Exception):
    """A person asked the session to stop."""


class TimeUp(Interrupted):
    """The session's time limit passed while the model was still answering."""


@dataclass
class LoopLimits:
    max_steps: int = 30
    max_wall_s: float = 1800.0
    max_tokens: int = 200_000
    context_tokens: int = 8192
    reply_tokens: int = 1024


@dataclass
class LoopState:
    steps: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    nudges: int = 0
    repairs: int = 0
    failures: int = 0
    recent: list[str] = field(default_factory=list)  # the last calls, as name + arguments
    repeats: int = 0
    last_exit_code: int | None = None
    # calls that cannot do better sent again, since the last change to the workspace: a
    # change refused (an `old` not found), a denial, and the change just made (sent again
    # it is made twice: config_cli_limit inserted `import sys` fourteen times)
    spent: set[str] = field(default_factory=set)
    started: float = field(default_factory=time.monotonic)


class AgentLoop:
    def __init__(
        self,
        client: ModelClient,
        tools: Mapping[str, ToolLike],
        runner: CallRunner,
        emit: Callable[[Event], Event],
        record: Callable[[Message], None],
        mode: ToolChoice | None,
        limits: LoopLimits,
        meter: EnergyMeter | None = None,
        finisher: Finisher | None = None,
    ) -> None:
        self.client, self.tools, self.runner = client, tools, runner
        self.emit, self.record, self.mode, self.limits = emit, record, mode, limits
        self.meter = meter or open_meter()
        self.finisher = finisher or Finisher("", None, _no_check, Evidence(), aids=False)
        self.stop_requested = threading.Event()
        self.waiting_on_model = False  # a signal may cut a model turn, never a tool call
        self.state = LoopState()
        self._schemas = [tool.schema() for tool in tools.values()]
        self._cut: str | None = None  # the last turn's finish reason
        self._schema_tokens = int(len(json.dumps(self._schemas)) / CHARS_PER_TOKEN) + 200
        self._search_calls = itertools.count(1)
        if self.finisher.aids and "write_file" in tools and "read_file" in tools:
            hooks = SearchHooks(
                sample=self._samples,
                read=self._search_read,
                write=self._search_write,
                check=self._search_check,
                notice=lambda text: self.emit(NoticeEvent(text=text)),
                time_left=self._time_left,
                go_on=lambda: self._tokens_left() and not self.stop_requested.is_set(),
                window_tokens=limits.context_tokens,
            )
            self.finisher.search = Search(self.finisher.task, hooks).run

    def _limit_reached(self) -> str | None:
        s, lim = self.state, self.limits
        if s.steps >= lim.max_steps:
            return f"step limit ({lim.max_steps}) reached"
        if self._time_left() < 0:
            return f"time limit ({lim.max_wall_s:.0f} s) reached"
        if not self._tokens_left():
            return f"token limit ({lim.max_tokens}) reached"
        return None

    def _kept_for_search(self) -> str | None:
        """The last `SEARCH_RESERVE_S` of the time limit go to the check-guided search once
        the tests failed on a finish (bench convert_litgpt_to_hf: the model's own edits used
        the whole 600 s and the search never had a round)."""
        left = self._time_left()
        if ROUND_SECONDS <= left < SEARCH_RESERVE_S and self.finisher.search_due():
            return f"time nearly spent ({left:.0f} s left): kept for the check-guided search"
        return None

    def _time_left(self) -> float:
        return self.limits.max_wall_s - (time.monotonic() - self.state.started)

    def _tokens_left(self) -> bool:
        return self.state.prompt_tokens + self.state.completion_tokens <= self.limits.max_tokens

    def _on_text(self, text: str) -> None:
        if self.stop_requested.is_set():
            raise Interrupted
        self.emit(AssistantDelta(text=text))

    def run(self, messages: list[Message]) -> FinishEvent:
        end = self._run(messages)
        if end.status != "finished" and end.status != "stopped":
            self.finisher.final_check(CHECK_CALL)
            if self._tokens_left() and self.finisher.last_chance():
                end = FinishEvent(status="finished", summary=end.summary)
        finish = self.finisher.final(end.status, end.summary, end.claim)
        return finish.model_copy(
            update={
                "steps": self.state.steps,
                "repairs": self.state.repairs,
                "failures": self.state.failures + self.runner.bad_arguments,
            }
        )

    def _run(self, messages: list[Message]) -> FinishEvent:
        while True:
            if self.stop_requested.is_set():
                return FinishEvent(status="stopped", summary="stopped by the user")
            reason = self._limit_reached() or self._kept_for_search()
            if reason:
                return FinishEvent(status="limit", summary=reason)
            self.state.steps += 1
            try:
                finished = self._step(messages)
            except TimeUp:
                limit = self.limits.max_wall_s
                return FinishEvent(status="limit", summary=f"time limit ({limit:.0f} s) reached")
            except Interrupted:
                return FinishEvent(status="stopped", summary="stopped by the user")
            if finished is not None:
                return finished

    def _complete(self, messages: list[Message], hot: bool = False) -> ModelTurn:
        """One model turn. The history is cut to fit the window (the tool schemas count
        too); a server that still finds it too long gets a shorter one, twice at most."""
        tools = [] if self.mode is None else self._schemas
        budget = self.limits.context_tokens - self.limits.reply_tokens - self._schema_tokens
        for attempt in range(3):
            self.waiting_on_model = True
            try:
                return self.client.complete(
                    fit(messages, int(budget * (0.7**attempt))),
                    tools,
                    self.mode or "none",
                    on_text=self._on_text,
                    max_tokens=self.limits.reply_tokens,
                    temperature=UNSTICK_TEMPERATURE if hot else self._unstick(),
                )
            except ContextOverflow:
                if attempt == 2:
                    raise
                self.emit(NoticeEvent(text="the prompt did not fit the model's window; cut more"))
            finally:
                self.waiting_on_model = False
        raise AssertionError("unreachable")

    def _unstick(self) -> float | None:
        """The next turn's temperature: the profile's own (None), except right after the
        model repeated itself (aids on), when a hotter turn may leave the rut that the
        likeliest reply keeps it in (bench: the same failing edit sent four times)."""
        if self.finisher.aids and self.state.repeats >= REREAD_LIMIT:
            return UNSTICK_TEMPERATURE
        return None

    def _turn(self, messages: list[Message], hot: bool = False) -> ModelTurn:
        """One model turn, its tokens and energy accounted; a call written as text read."""
        joules_before = self.meter.read_joules()
        turn = self._complete(messages, hot)
        tokens = turn.prompt_tokens + turn.completion_tokens
        energy = joules_per_1k(self.meter, joules_before, turn.seconds, tokens)
        self._account(turn.prompt_tokens, turn.completion_tokens, turn.seconds, energy)
        if not turn.tool_calls and turn.text:
            calls = textcalls.parse(turn.text)
            if calls:
                turn = turn.model_copy(update={"tool_calls": calls, "from_text": True})
        return turn

    def _fresh_turn(self, messages: list[Message]) -> ModelTurn:
        """A turn whose call is not one already spent (`LoopState.spent`) with nothing
        changed since: such a call is dropped unsent and the model asked again, hotter, up
        to `RESAMPLES` times (aids on); the last answer stands. In the bench the model
        re-sent an edit whose `old` was not in the file five times, a no-op edit three
        times, and one inserting `import sys` fourteen times in a row: each copy in the
        history made the next likelier."""
        turn = self._turn(messages)
        for _ in range(RESAMPLES):
            again = [c.name for c in turn.tool_calls if self._key(c) in self.state.spent]
            if not (self.finisher.aids and again):
                break
            self.emit(
                NoticeEvent(
                    text=f"the model sent the same {again[0]} call again with nothing changed "
                    f"since: not run; asked again at temperature {UNSTICK_TEMPERATURE}"
                )
            )
            turn = self._turn(messages, hot=True)
        return turn

    def _key(self, call: ToolCallRequest) -> str | None:
        """The call as name + arguments after repair (None: its arguments do not parse)."""
        try:
            arguments, _ = parse_arguments(call.arguments)
        except ArgumentsError:
            return None
        tool = self.tools.get(call.name)
        if tool is not None:
            arguments, _ = tool.repair(arguments)
        return _signature(call.name, arguments)

    def _remember(
        self, call: ToolCallRequest, arguments: dict[str, object], output: ToolOutput
    ) -> None:
        """A change or a command may change what a call does: the spent ones are
        forgotten. Then a change, made or refused as sent (arguments that do not fit it
        included; not a sandbox failure, not a write held once, which the same write sent
        again applies), and a denial are spent."""
        denied = output.content.startswith("denied by policy")
        changing = call.name in CHANGING_TOOLS
        if call.name == "run" or (changing and not output.is_error):
            self.state.spent.clear()
        final = not output.again and not output.content.startswith(SANDBOX_FAILED)
        if (changing and final) or denied:
            self.state.spent.add(_signature(call.name, arguments))

    def _step(self, messages: list[Message]) -> FinishEvent | None:
        turn = self._fresh_turn(messages)
        calls, self._cut = turn.tool_calls, turn.finish_reason
        if self._cut == RUNAWAY:
            self.emit(NoticeEvent(text="cut off the model's reply: it kept repeating itself"))
        if turn.from_text and self.mode is not None:
            self.state.repairs += 1
            self.emit(NoticeEvent(text="read a tool call written as text"))
        assistant = Message(role="assistant", content=turn.text, tool_calls=calls)
        messages.append(assistant)
        self.record(assistant)
        if turn.text.strip():
            self.emit(AssistantText(text=turn.text))
        if not calls:
            return self._nudge(messages)
        self.state.nudges = 0
        for call in calls:
            done = self._call(call, messages)
            if done is not None:
                return done
        return None

    def _nudge(self, messages: list[Message]) -> FinishEvent | None:
        self.state.nudges += 1
        if self.state.nudges > MAX_NUDGES:
            return FinishEvent(status="failed", summary="the model stopped calling tools")
        hint = Message(
            role="user",
            content="Reply with a tool call. When the task is done and checked, call finish.",
        )
        messages.append(hint)
        self.record(hint)
        return None

    def _reply(self, messages: list[Message], call: ToolCallRequest, text: str) -> None:
        reply = Message(role="tool", content=text, tool_call_id=call.id)
        messages.append(reply)
        self.record(reply)

    def _call(self, call: ToolCallRequest, messages: list[Message]) -> FinishEvent | None:
        tool = self.tools.get(call.name)
        try:
            arguments, repairs = parse_arguments(call.arguments)
        except ArgumentsError as exc:
            self.state.failures += 1
            self.emit(
                ToolCallEvent(
                    call_id=call.id, tool=call.name, arguments={"raw": call.arguments[:2000]}
                )
            )
            text = f"error: {exc}. Send the arguments as one JSON object." + self._cut_note()
            self._reply(messages, call, self.runner.error(call.name, call, text).content)
            return None
        if tool is not None:
            arguments, renamed = tool.repair(arguments)
            repairs += renamed
        self.state.repairs += len(repairs)
        if repairs:
            self.emit(NoticeEvent(text=f"repaired {call.name} call: {'; '.join(repairs)}"))
        self.emit(
            ToolCallEvent(
                call_id=call.id, tool=call.name, arguments=arguments, repaired=bool(repairs)
            )
        )
        if tool is None:
            self.state.failures += 1
            names = ", ".join(self.tools)
            text = f"error: there is no tool {call.name!r}; the tools are: {names}"
            self._reply(messages, call, self.runner.error(call.name, call, text).content)
            return None
        if tool.name == "finish" and self._finish_refused(messages, call):
            return None
        output = self.runner.execute(tool, call, arguments)
        self._remember(call, arguments, output)
        if output.exit_code is not None and tool.name == "run":
            self.state.last_exit_code = output.exit_code
        if output.repairs:
            self.state.repairs += len(output.repairs)
            self.emit(NoticeEvent(text=f"repaired {call.name} input: {'; '.join(output.repairs)}"))
        text = output.content + self._steer(call, arguments, output)
        self._reply(messages, call, text)
        if self.state.repeats >= STUCK_LIMIT:
            return FinishEvent(
                status="failed",
                summary=f"the model repeated the same {call.name} call {self.state.repeats} "
                f"times in its last {LOOP_WINDOW} calls",
            )
        if output.finished:
            return FinishEvent(status="finished", summary="", claim=output.content)
        return None

    def _cut_note(self) -> str:
        """Why the arguments ended early, when the reply was cut off."""
        how = " For a long file, write_file a first part, then add the rest with edit_file."
        if self._cut == RUNAWAY:
            return (
                " Your reply was cut off: it kept repeating the same few characters (empty "
                "lines) and would not have ended. Send only the text the call needs." + how
            )
        if self._cut == "length":
            return (
                f" Your reply was cut off at the reply limit ({self.limits.reply_tokens} "
                "tokens) before the call was complete." + how
            )
        return ""

    def _finish_refused(self, messages: list[Message], call: ToolCallRequest) -> bool:
        refusal = self.finisher.review(call, self.state.last_exit_code)
        if refusal is None:
            return False
        self.emit(NoticeEvent(text=refusal.splitlines()[0]))
        self._reply(messages, call, refusal)
        return True

    def _steer(
        self, call: ToolCallRequest, arguments: dict[str, object], output: ToolOutput
    ) -> str:
        """A loop is the same call with the same result again and again, in a row or in a
        cycle (read, edit, read, edit): after `REPEAT_LIMIT` times among the last
        `LOOP_WINDOW` calls the model is told to do something else (a second read of
        unchanged text already: reading cannot help); at `STUCK_LIMIT` the session ends."""
        digest = hashlib.sha256(output.content.encode()).hexdigest()[:16]
        key = f"{_signature(call.name, arguments)}:{digest}"
        recent = self.state.recent
        recent.append(key)
        del recent[:-LOOP_WINDOW]
        self.state.repeats = recent.count(key)
        if call.name == "read_file" and self.state.repeats == REREAD_LIMIT and self.finisher.aids:
            self.emit(NoticeEvent(text=f"the model read {arguments.get('path')} again, unchanged"))
            return (
                "\nnote: you read this before and it has not changed since. Reading it again "
                "will not help: change it with edit_file, or run the code to see what fails."
            )
        if self.state.repeats < REPEAT_LIMIT:
            return ""
        what = "failed" if output.is_error else "was made"
        self.emit(
            NoticeEvent(
                text=f"the model repeated the same {call.name} call {self.state.repeats} times"
            )
        )
        return (
            f"\nnote: this exact call {what} {self.state.repeats} times in your last "
            f"{len(recent)} calls with the same result, and will not give a different one. "
            "Do something else: read the error, look at another file, or change your approach."
        )

    # the check-guided search's ways to act (agent.search), each a call like the model's
    def _samples(
        self, messages: list[Message], n: int, temperature: float, max_tokens: int
    ) -> list[str]:
        answers = self.client.samples(messages, n, temperature, max_tokens)
        self._account(answers.prompt_tokens, answers.completion_tokens, answers.seconds, None)
        return answers.texts

    def _search_call(self, name: str, arguments: dict[str, object]) -> ToolOutput:
        call = ToolCallRequest(
            id=f"search-{next(self._search_calls)}", name=name, arguments=json.dumps(arguments)
        )
        self.emit(ToolCallEvent(call_id=call.id, tool=name, arguments=arguments))
        return self.runner.execute(self.tools[name], call, arguments)

    def _search_read(self, path: str) -> str | None:
        """A file's whole text, once the policy let `read_file` read it; None unless it is
        UTF-8 with LF line ends only, so that writing it back leaves the file as it was (a
        model's file often lacks the last line break: kept as it is)."""
        output = self._search_call("read_file", {"path": path, "end_line": 100_000})
        head, _, shown = output.content.partition("\n")
        if output.is_error or not head.startswith("[") or "\n[... " in shown:
            return None  # refused, missing, empty, or longer than one answer
        try:
            text = (current_bytes(self.runner.context(), path) or b"").decode("utf-8")
        except UnicodeDecodeError:
            return None
        return None if "\r" in text or "\x0c" in text else text

    def _search_check(self) -> CheckRecord:
        call = ToolCallRequest(
            id=f"search-{next(self._search_calls)}", name="check", arguments="{}"
        )
        return self.finisher.recheck(call)

    def _search_write(self, path: str, text: str) -> bool:
        output = self._search_call("write_file", {"path": path, "content": text})
        if output.again:  # held once as a hasty rewrite: the search means it
            output = self._search_call("write_file", {"path": path, "content": text})
        if output.is_error:
            return False
        self.state.spent.clear()  # the workspace changed
        return True

    def _account(self, prompt: int, completion: int, seconds: float, energy: float | None) -> None:
        self.state.prompt_tokens += prompt
        self.state.completion_tokens += completion
        self.emit(
            UsageEvent(
                prompt_tokens=prompt,
                completion_tokens=completion,
                total_prompt_tokens=self.state.prompt_tokens,
                total_completion_tokens=self.state.completion_tokens,
                seconds=seconds,
                tokens_per_s=completion / seconds if seconds > 0 else 0.0,
                joules_per_1k_tokens=energy,
                energy_method=self.meter.method,
            )
        )


def _signature(name: str, arguments: Mapping[str, object]) -> str:
    """A call as its tool's name and its (repaired) arguments: what makes two calls the same."""
    return f"{name}:{json.dumps(arguments, sort_keys=True)}"


def _no_check(call: ToolCallRequest, check: object, attempt: int) -> CheckRecord:
    raise AssertionError("no check is known")
