"""The agent tests' workspace and policy fixtures, for the command-line tests."""

from tests.agent.conftest import policy_file, workspace

__all__ = ["policy_file", "workspace"]
