"""The session arguments, declared once for every front end that starts a session.

`rempart run`, `rempart tui`, bare `rempart` and `rempart sessions resume` all take the same
options (workspace, policy, model, endpoint, project policy, limits) from
`add_session_arguments`, read them back with `SessionArgs.from_namespace`, and build the
session's `SessionOptions` with `SessionArgs.options`. Light on purpose: the TUI imports it
before its first paint; `agent.session` (openai, docker) is imported only to build options.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from policies.shipped import policy_argument

if TYPE_CHECKING:
    from agent.approval import Approver
    from agent.session import SessionOptions

MAX_STEPS = 30
MAX_SECONDS = 1800.0
MAX_TOKENS = 200_000


@dataclass(frozen=True)
class SessionArgs:
    """What the command line said about the session to start."""

    workspace: Path = Path(".")
    policy_files: tuple[Path, ...] = ()
    model: str | None = None
    endpoint: str | None = None
    ignore_project_policy: bool = False
    max_steps: int = MAX_STEPS
    max_seconds: float = MAX_SECONDS
    max_tokens: int = MAX_TOKENS

    @classmethod
    def from_namespace(cls, args: argparse.Namespace, prefix: str = "") -> SessionArgs:
        values: dict[str, Any] = vars(args)

        def get(name: str, default: Any) -> Any:
            value = values.get(prefix + name, default)
            return default if value is None else value

        return cls(
            workspace=Path(get("workspace", ".")),
            policy_files=tuple(get("policy", [])),
            model=get("model", None),
            endpoint=get("endpoint", None),
            ignore_project_policy=bool(get("ignore_project_policy", False)),
            max_steps=int(get("max_steps", MAX_STEPS)),
            max_seconds=float(get("max_seconds", MAX_SECONDS)),
            max_tokens=int(get("max_tokens", MAX_TOKENS)),
        )

    def options(
        self,
        task: str,
        approver: Approver | None = None,
        resume_id: str | None = None,
        follow_up: str | None = None,
    ) -> SessionOptions:
        from agent.approval import DenyApprover
        from agent.loop import LoopLimits
        from agent.session import SessionOptions

        return SessionOptions(
            task=task,
            workspace=self.workspace,
            policy_files=list(self.policy_files),
            approver=approver or DenyApprover(),
            model_url=self.endpoint,
            model=self.model,
            resume_id=resume_id,
            follow_up=follow_up,
            limits=LoopLimits(
                max_steps=self.max_steps, max_wall_s=self.max_seconds, max_tokens=self.max_tokens
            ),
            ignore_project_policy=self.ignore_project_policy,
        )


def add_session_arguments(
    parser: argparse.ArgumentParser, *, workspace: bool = True, prefix: str = ""
) -> None:
    """The session options. `prefix` stores them under other names with no defaults (bare
    `rempart`, so that an option given before a command is caught, not silently dropped)."""

    def default(value: Any) -> Any:
        return None if prefix else value

    group = parser.add_argument_group("session options")
    if workspace:
        group.add_argument(
            "--workspace",
            dest=prefix + "workspace",
            default=default("."),
            metavar="DIR",
            help="the project folder (default: .)",
        )
    group.add_argument(
        "--policy",
        dest=prefix + "policy",
        action="append",
        default=None if prefix else [],
        type=policy_argument,
        metavar="NAME|FILE",
        help="add a policy layer: a file, or a shipped policy (default, strict, ci); repeatable",
    )
    group.add_argument(
        "--model",
        dest=prefix + "model",
        metavar="NAME",
        help="the model's name on the server (default: REMPART_MODEL_NAME, else the first "
        "model the server lists)",
    )
    group.add_argument(
        "--endpoint",
        dest=prefix + "endpoint",
        metavar="URL",
        help="OpenAI-compatible base URL (default: REMPART_MODEL_BASE_URL)",
    )
    group.add_argument(
        "--ignore-project-policy",
        dest=prefix + "ignore_project_policy",
        action="store_true",
        default=default(False),
        help="do not read .rempart/policy.yaml from the workspace",
    )
    group.add_argument(
        "--max-steps",
        dest=prefix + "max_steps",
        type=int,
        default=default(MAX_STEPS),
        metavar="N",
        help=f"stop after N model turns (default: {MAX_STEPS}; exit 3)",
    )
    group.add_argument(
        "--max-seconds",
        dest=prefix + "max_seconds",
        type=float,
        default=default(MAX_SECONDS),
        metavar="S",
        help=f"stop after S seconds (default: {MAX_SECONDS:.0f}; exit 3)",
    )
    group.add_argument(
        "--max-tokens",
        dest=prefix + "max_tokens",
        type=int,
        default=default(MAX_TOKENS),
        metavar="N",
        help=f"stop after N prompt + completion tokens in all (default: {MAX_TOKENS:,}; exit 3)",
    )
