"""Run mini-swe-agent on one bench task (executed by the scratch virtualenv's python).

Not imported by Rempart and not a project dependency: `bench_tasks.py` installs
mini-swe-agent from PyPI into a scratch virtualenv and runs this file with that
interpreter. Commands run in a container of the sandbox image with no network, the task's
temporary workspace bind-mounted at /workspace (mini-swe-agent's own docker environment).

    python mini_runner.py --workspace WS --task-file TASK.md --trajectory OUT.json \
        --image rempart-sandbox:latest --label rempart-bench-run=ID --max-steps 20 \
        --model openai/qwen2.5-coder-1.5b-instruct --api-base URL --api-key KEY
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml
from minisweagent.agents.default import DefaultAgent
from minisweagent.config import builtin_config_dir
from minisweagent.environments.docker import DockerEnvironment
from minisweagent.models.litellm_model import LitellmModel
from minisweagent.models.litellm_textbased_model import LitellmTextbasedModel

CONFIGS = {"tool": "mini.yaml", "text": "mini_textbased.yaml"}


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("workspace", "task-file", "trajectory", "image", "label", "model"):
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--api-base", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--max-steps", type=int, default=20)
    parser.add_argument("--temperature", type=float, default=0.2)
    parser.add_argument("--reply-tokens", type=int, default=1024)
    parser.add_argument("--max-seconds", type=int, default=900)
    parser.add_argument(
        "--actions",
        choices=sorted(CONFIGS),
        default="tool",
        help="tool: its default `mini` config (native tool calls); text: its text-based config",
    )
    args = parser.parse_args()

    config = yaml.safe_load((builtin_config_dir / CONFIGS[args.actions]).read_text())
    model_class = LitellmTextbasedModel if args.actions == "text" else LitellmModel
    model = model_class(
        model_name=args.model,
        model_kwargs={
            **config["model"].get("model_kwargs", {}),
            "api_base": args.api_base,
            "api_key": args.api_key,
            "temperature": args.temperature,
            "max_tokens": args.reply_tokens,
        },
        observation_template=config["model"]["observation_template"],
        format_error_template=config["model"]["format_error_template"],
        cost_tracking="ignore_errors",
    )
    env = DockerEnvironment(
        image=args.image,
        cwd="/workspace",
        env=config["environment"]["env"],
        timeout=60,
        run_args=["--rm", "--network", "none", "--label", args.label,
                  "-v", f"{Path(args.workspace).resolve()}:/workspace"],
    )  # fmt: skip
    agent_config = {
        key: config["agent"][key] for key in ("system_template", "instance_template")
    } | {
        "step_limit": args.max_steps,
        "cost_limit": 0,
        "wall_time_limit_seconds": args.max_seconds,
        "output_path": Path(args.trajectory),
    }
    agent = DefaultAgent(model, env, **agent_config)
    try:
        agent.run(Path(args.task_file).read_text())
    finally:
        env.cleanup()


if __name__ == "__main__":
    main()
