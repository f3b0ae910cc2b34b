"""Engine addresses and their TLS settings are checked when read; dead engines are named.

No engine is needed here: the real two-engine tests are in test_engines_real.py.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from agent.errors import ConfigError
from agent.settings import load_settings
from sandbox.engines import (
    CERT_VARIABLE,
    LOCAL,
    EngineConfigError,
    Engines,
    cli_args,
    parse_address,
    parse_hosts,
    tls_config,
)
from sandbox.errors import DockerUnavailable
from sandbox.owner import (
    LABEL_OWNER_BOOT,
    LABEL_OWNER_MACHINE,
    LABEL_OWNER_PID,
    owner_gone,
    owner_labels,
)


@pytest.mark.parametrize(
    ("text", "scheme"),
    [
        ("unix:///var/run/docker.sock", "unix"),
        ("tcp://build-1.example:2376", "tcp"),
        ("tcp://10.0.0.7:2376", "tcp"),
        ("ssh://ci@build-2.example", "ssh"),
        ("ssh://ci@build-2.example:2222", "ssh"),
        ("local", "local"),
    ],
)
def test_unix_tcp_and_ssh_addresses_are_accepted(text: str, scheme: str) -> None:
    address = parse_address(f"  {text} ")
    assert (address.url, address.scheme) == (text, scheme)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("http://build-1:2375", "unknown scheme 'http'"),
        ("build-1:2376", "unknown scheme"),
        ("unix://relative.sock", "absolute path"),
        ("tcp://build-1", "tcp needs a port"),
        ("tcp://build-1:notaport", "Port could not be cast"),
        ("tcp://root@build-1:2376", "tcp takes no user name"),
        ("tcp://build-1:2376/v1.41", "unexpected path"),
        ("ssh://", "no host name"),
    ],
)
def test_an_address_that_cannot_work_is_refused_with_the_reason(text: str, why: str) -> None:
    with pytest.raises(EngineConfigError, match=why) as caught:
        parse_address(text)
    assert "unix:///path/to/docker.sock" in caught.value.hint


def test_a_comma_separated_list_keeps_its_order_and_an_empty_one_means_the_local_engine() -> None:
    urls = [a.url for a in parse_hosts("unix:///a.sock, ,ssh://u@b,")]
    assert urls == ["unix:///a.sock", "ssh://u@b"]
    assert [a.scheme for a in parse_hosts("")] == ["local"]
    assert [a.scheme for a in parse_hosts([])] == ["local"]
    with pytest.raises(EngineConfigError, match=re.escape("listed twice: unix:///a.sock")):
        parse_hosts("unix:///a.sock,unix:///a.sock")


def test_tcp_is_used_only_with_mutual_tls_from_a_complete_certificate_folder(
    tmp_path: Path,
) -> None:
    with pytest.raises(EngineConfigError, match="only used with TLS") as caught:
        tls_config(None, "tcp://b:2376")
    assert "REMPART_DOCKER_CERT_PATH" in caught.value.hint
    (tmp_path / "ca.pem").write_text("ca")
    with pytest.raises(EngineConfigError, match=re.escape("lacks cert.pem, key.pem")):
        tls_config(tmp_path, "tcp://b:2376")
    (tmp_path / "cert.pem").write_text("cert")
    (tmp_path / "key.pem").write_text("key")
    tls = tls_config(tmp_path, "tcp://b:2376")
    assert tls.verify is True and tls.ca_cert == str(tmp_path / "ca.pem")  # CA pinned
    assert tls.cert == (str(tmp_path / "cert.pem"), str(tmp_path / "key.pem"))


def test_ssh_engines_are_never_given_a_sandbox_and_the_survey_says_how_to_fix_it(
    tmp_path: Path,
) -> None:
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_text("x")
    hosts = "ssh://ci@b,tcp://127.0.0.1:9,unix:///nonexistent/d.sock"
    states = Engines(hosts, tmp_path).survey()
    assert not states[0].ok and "cannot host sandboxes" in states[0].problem
    assert "ssh -nNT -L /run/rempart/NAME.sock:/var/run/docker.sock" in states[0].problem
    # tcp+TLS may host sandboxes: this one is skipped only because nothing answers there
    assert not states[1].ok and "cannot host" not in states[1].problem
    assert not states[2].ok and "No such file or directory" in states[2].problem


def test_with_every_engine_dead_placement_fails_naming_each_and_why(tmp_path: Path) -> None:
    stale = tmp_path / "stale.sock"  # a socket file nobody listens on (a killed dockerd)
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(stale))
    engines = Engines([f"unix://{stale}", f"unix://{tmp_path}/missing.sock"])
    with pytest.raises(DockerUnavailable) as caught:
        engines.place("rempart-sandbox:any")
    message = caught.value.message
    assert f"unix://{stale}: unreachable: Connection refused" in message
    assert f"unix://{tmp_path}/missing.sock: unreachable: No such file" in message
    assert "rempart doctor" in caught.value.hint


def test_engines_come_from_the_environment_and_a_bad_one_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("REMPART_CONFIG_DIR", str(tmp_path))
    monkeypatch.setenv("REMPART_DOCKER_HOSTS", "unix:///a.sock,ssh://ci@b")
    settings = load_settings()
    assert settings.docker_hosts == ["unix:///a.sock", "ssh://ci@b"]
    assert [a.url for a in settings.engines().addresses] == settings.docker_hosts
    assert [a.url for a in Engines.from_env().addresses] == settings.docker_hosts
    monkeypatch.setenv("REMPART_DOCKER_HOSTS", "http://b:2375")
    with pytest.raises(ConfigError, match=r"docker_hosts: .*unknown scheme 'http'"):
        load_settings()


def test_engines_cannot_be_set_in_the_config_file_which_the_sandbox_commands_do_not_read(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("REMPART_CONFIG_DIR", str(tmp_path))
    monkeypatch.delenv("REMPART_DOCKER_HOSTS", raising=False)
    (tmp_path / "config.toml").write_text('docker_hosts = ["unix:///a.sock"]\n')
    with pytest.raises(ConfigError, match="docker_hosts cannot be set in the config file"):
        load_settings()


def test_a_container_of_another_host_sharing_an_engine_is_never_judged_an_orphan_here() -> None:
    mine = owner_labels()
    rebooted = {**mine, LABEL_OWNER_BOOT: "00000000-0000-0000-0000-000000000000"}
    assert owner_gone(rebooted)  # this machine, another boot: its owner cannot be alive
    # another host: another boot id, and the same (initial) pid namespace as ours
    elsewhere = {**rebooted, LABEL_OWNER_MACHINE: "0123456789abcdef0123456789abcdef"}
    assert not owner_gone(elsewhere)
    assert not owner_gone({**elsewhere, LABEL_OWNER_PID: "999999999"})


def test_the_docker_cli_reaches_a_tcp_engine_with_tls_and_the_certificates_of_its_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli_args(LOCAL) == [] and cli_args("unix:///x.sock") == ["-H", "unix:///x.sock"]
    monkeypatch.setenv(CERT_VARIABLE, str(tmp_path / "env"))
    tls = ["--tlsverify", f"--tlscacert={tmp_path}/env/ca.pem"]
    assert cli_args("tcp://never-used:2376")[:4] == ["-H", "tcp://never-used:2376", *tls]
