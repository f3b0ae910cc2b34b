"""One `Settings` model for the whole program: every field documented, env prefix `REMPART_`.

Sources, strongest first: arguments in code, the environment (`REMPART_*`), then
`config.toml` in the config folder (`$XDG_CONFIG_HOME/rempart`, or `REMPART_CONFIG_DIR`),
then the defaults. Folders follow the XDG base directories and are set by the environment
only (`REMPART_DATA_DIR`, `_CACHE_DIR`, `_STATE_DIR`, `_RUNTIME_DIR`, `_CONFIG_DIR`): the
sandbox reads the same variables (`sandbox.engine`), so a folder set in the file alone
would split them. `rempart config show` prints what is in force and where each value came from.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

import platformdirs
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from agent.errors import ConfigError
from sandbox import engine as dirs
from sandbox.engines import Engines, parse_hosts
from sandbox.errors import SandboxError
from sandbox.k8s.manifests import K8sOptions

ToolCallMode = Literal["auto", "required", "native", "text"]
LogLevel = Literal["debug", "info", "warning", "error"]
CONFIG_FILE = "config.toml"
FOLDERS = ("data_dir", "config_dir", "cache_dir", "state_dir", "runtime_dir")
# read by the sandbox package too (it cannot import the settings): environment only
ENGINE_FIELDS = ("docker_hosts", "docker_cert_path")


def default_config_dir() -> Path:
    value = os.environ.get("REMPART_CONFIG_DIR")
    return Path(value) if value else platformdirs.user_config_path("rempart")


class _ConfigFile(TomlConfigSettingsSource):
    """`config.toml`; a folder set there is an error (folders come from the environment)."""

    def __call__(self) -> dict[str, Any]:
        values = super().__call__()
        engines = sorted(set(values) & set(ENGINE_FIELDS))
        if engines:
            raise ConfigError(
                f"{self.path}: {', '.join(engines)} cannot be set in the config file",
                hint="set Docker engines with REMPART_DOCKER_HOSTS and REMPART_DOCKER_CERT_PATH "
                "(`rempart sandbox ls/prune` read them too)",
            )
        folders = sorted(set(values) & set(FOLDERS))
        if folders:
            raise ConfigError(
                f"{self.path}: {', '.join(folders)} cannot be set in the config file",
                hint="set folders with REMPART_DATA_DIR, REMPART_CACHE_DIR, ... or XDG_* variables",
            )
        return values

    @property
    def path(self) -> Path:
        return Path(str(self.toml_file_path))


class Settings(BaseSettings):
    """Rempart's configuration. Safe defaults: local model only, no proxy from the environment."""

    model_config = SettingsConfigDict(env_prefix="REMPART_", extra="forbid", frozen=True)

    data_dir: Path = Field(
        default_factory=dirs.data_dir,
        description="Sessions, the audit log, models and the vLLM virtualenv live here.",
    )
    config_dir: Path = Field(
        default_factory=default_config_dir,
        description="config.toml, the user policy layer (policy.yaml), trusted project "
        "policies, mcp.yaml.",
    )
    cache_dir: Path = Field(
        default_factory=dirs.cache_dir,
        description="What can be fetched or built again: model parts, the debootstrap rootfs.",
    )
    state_dir: Path = Field(
        default_factory=dirs.state_dir, description="Logs: rempart.log and the model server's."
    )
    runtime_dir: Path = Field(
        default_factory=dirs.runtime_dir, description="Pid and state files of running servers."
    )
    org_policy_dir: Path = Field(
        default=Path("/etc/rempart/policy.d"),
        description="The organisation policy layer: every *.yaml here, in name order.",
    )
    deploy_dir: Path | None = Field(
        default=None,
        description="A folder with your own serving profiles/ and chat_templates/; "
        "empty: the ones shipped in the package.",
    )
    model_base_url: str = Field(
        default="http://127.0.0.1:8011/v1",
        description="OpenAI-compatible endpoint (vLLM, llama.cpp server...).",
    )
    model_urls: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Several OpenAI-compatible replicas of one model, comma-separated: a "
        "session stays on one (vLLM's prefix cache) and fails over to another when it dies. "
        "Empty: model_base_url alone.",
    )
    docker_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Docker engines, comma-separated (unix:///..., tcp://host:2376 with TLS, "
        "ssh://user@host); a sandbox goes to the healthy one with the fewest running. "
        "Empty: the local engine (DOCKER_HOST). Environment only (REMPART_DOCKER_HOSTS).",
    )
    docker_cert_path: Path | None = Field(
        default=None,
        description="Folder with ca.pem, cert.pem, key.pem for tcp:// engines (mutual TLS). "
        "Environment only (REMPART_DOCKER_CERT_PATH).",
    )
    model_name: str = Field(
        default="", description="Model id on the server; empty: the first one it lists."
    )
    model_api_key: str = Field(default="rempart-local", description="Sent as the bearer token.")
    model_timeout_s: float = Field(default=300.0, gt=0, description="Per request.")
    model_retries: int = Field(default=2, ge=0, le=10, description="Retries with backoff.")
    tool_call_mode: ToolCallMode = Field(
        default="auto",
        description="auto: probe the server; required: tool_choice=required; "
        "native: tool_choice=auto; text: prompted format parsed from the text.",
    )
    port: int = Field(default=8011, ge=1, le=65535, description="Port for `rempart model serve`.")
    sandbox_image: str = Field(default="", description="Sandbox image; empty: the built one.")
    sandbox_backend: Literal["docker", "kubernetes"] = Field(
        default="docker",
        description="Where sessions' sandboxes run: Docker engines (docker_hosts), or a pod "
        "per session on a Kubernetes cluster (docs/scale.md; needs the `k8s` extra, "
        "sandbox_image in a registry the nodes pull from, and `rempart sandbox manifest "
        "--setup` applied once).",
    )
    kubeconfig: Path | None = Field(
        default=None,
        description="kubeconfig file of the cluster; empty: the pod's service account when "
        "run inside the cluster, else the default kubeconfig (~/.kube/config, KUBECONFIG).",
    )
    k8s_namespace: str = Field(
        default="rempart-sandboxes",
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        max_length=63,
        description="Namespace of the sandbox pods.",
    )
    k8s_gvisor_class: str = Field(
        default="gvisor",
        pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
        description="RuntimeClass of pods whose policy asks `sandbox.runtime: gvisor`.",
    )
    k8s_runtime_class: str = Field(
        default="",
        pattern=r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?)?$",
        description="RuntimeClass forced on every sandbox pod; empty: the policy.",
    )
    aids: bool = Field(
        default=True,
        description="Aids for small models: a project map at start, read_file without a "
        "gutter, pasted gutters and whitespace slips repaired, finish refused while the "
        "project's check fails, loops steered. `REMPART_AIDS=off` turns them off (the "
        "benchmark's comparison); the check still runs once at finish, for the record.",
    )
    log_level: LogLevel = Field(
        default="warning", description="What goes to state_dir/rempart.log (--log-level wins)."
    )

    @field_validator("model_urls", "docker_hosts", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("docker_hosts")
    @classmethod
    def _engine_addresses(cls, value: list[str]) -> list[str]:
        try:  # an address that cannot work is an error now, not at first use
            parse_hosts(value)
        except SandboxError as exc:
            raise ValueError(exc.message) from exc
        return value

    def k8s_options(self) -> K8sOptions:
        """Where and how sandbox pods run (`sandbox_backend = "kubernetes"`)."""
        return K8sOptions(
            namespace=self.k8s_namespace,
            gvisor_class=self.k8s_gvisor_class,
            runtime_class=self.k8s_runtime_class or None,
        )

    def engines(self) -> Engines:
        """The Docker engines sandboxes are placed on (`sandbox.engines`)."""
        return Engines(self.docker_hosts, self.docker_cert_path)

    @property
    def model_replicas(self) -> list[str]:
        """The model's base URLs: `model_urls`, else `model_base_url` alone."""
        return list(self.model_urls) or [self.model_base_url]

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        given = getattr(init_settings, "init_kwargs", {}).get("config_dir")
        folder = Path(given) if given else default_config_dir()
        return (init_settings, env_settings, _ConfigFile(settings_cls, folder / CONFIG_FILE))

    @property
    def config_file(self) -> Path:
        return self.config_dir / CONFIG_FILE

    audit_key_file: Path | None = Field(
        default=None,
        description="The secret that keys audit records (hex, 0600); kept out of the data dir. "
        "Empty: `audit.key` in the config dir, created on first use.",
    )
    audit_anchor_file: Path | None = Field(
        default=None,
        description="Where the audit log's head is anchored. Empty: `audit-<hash of the log's "
        "path>.head` in the config dir (one anchor per audit log).",
    )
    audit_sink: Path | None = Field(
        default=None,
        description="Also append every audit record to this file (opened O_APPEND), e.g. on "
        "another volume or an append-only mount.",
    )

    store_url: str = Field(
        default="",
        description="Where sessions, events and the audit log live. Empty: SQLite and a JSONL "
        "file in the data dir (embedded). `postgresql://user@host:port/db`: PostgreSQL, shared "
        "by every Rempart that names it (docs/store.md).",
    )

    @field_validator("store_url")
    @classmethod
    def _postgresql_only(cls, value: str) -> str:
        if value and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("must be empty (SQLite) or a postgresql:// URL")
        return value

    @property
    def sessions_db(self) -> Path:
        return self.data_dir / "sessions.sqlite3"

    @property
    def audit_log(self) -> Path:
        return self.data_dir / "audit.jsonl"

    @property
    def audit_key(self) -> Path:
        return self.audit_key_file or self.config_dir / "audit.key"

    @property
    def audit_anchor(self) -> Path:
        """One anchor per log: two data dirs (a second `REMPART_DATA_DIR`) sharing the config
        dir must not move each other's anchor (each would then look cut)."""
        if self.audit_anchor_file is not None:
            return self.audit_anchor_file
        where = hashlib.sha256(str(self.audit_log.resolve()).encode()).hexdigest()[:12]
        return self.config_dir / f"audit-{where}.head"

    @property
    def checkpoints_dir(self) -> Path:
        return self.data_dir / "checkpoints"

    @property
    def locks_dir(self) -> Path:
        return self.data_dir / "locks"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def vllm_venv(self) -> Path:
        return self.data_dir / "vllm-venv"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "rempart.log"


def load_settings(**overrides: Any) -> Settings:
    """`Settings(...)`, with a bad value in the file or the environment as a `ConfigError`."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(
            f"invalid setting: {problems}",
            hint=f"fix {default_config_dir() / CONFIG_FILE} or the REMPART_* variable",
        ) from exc
    except (tomllib.TOMLDecodeError, OSError) as exc:
        raise ConfigError(
            f"cannot read {default_config_dir() / CONFIG_FILE}: {exc}", hint="fix the file"
        ) from exc
