"""Run settings: environment and flags, validation through the shared parsers, skip rule."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from preflight.actions.plan import Action
from preflight.errors import InputError, UsageError
from preflight.exitcodes import ExitCode
from preflight.run.settings import DEFAULT_TIMEOUT_S, settings_from_env, skip_reason
from tests.admin.support import admin_config

ADMIN = admin_config()


@pytest.mark.parametrize(
    ("env", "skips"),
    [
        ({}, True),
        ({"DOCKER_HOST": ""}, True),
        ({"DOCKER_HOST": "unix:///var/run/docker.sock"}, True),
        ({"DOCKER_HOST": "ssh://me@host"}, True),
        ({"DOCKER_HOST": "tcp://docker:2375"}, False),
        ({"DOCKER_HOST": "tcp://localhost:2376"}, False),
        ({"DOCKER_HOST": "tcp://docker:2375", "DIND_PREFLIGHT_DISABLE": "1"}, True),
        ({"DOCKER_HOST": "tcp://docker:2375", "DIND_PREFLIGHT_DISABLE": "  "}, False),
    ],
)
def test_skip_reason(env: dict[str, str], skips: bool) -> None:
    assert (skip_reason(env) is not None) is skips


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, DEFAULT_TIMEOUT_S), ("", DEFAULT_TIMEOUT_S), ("5", 5.0), ("0.5", 0.5), (12, 12.0)],
)
def test_timeout_values(value: str | float | None, expected: float) -> None:
    assert settings_from_env({}, timeout=value).timeout_s == expected


@pytest.mark.parametrize("value", ["abc", "0", "-1", "nan", "inf", "3601"])
def test_bad_timeouts_are_usage_errors_naming_the_flag_or_variable(value: str) -> None:
    with pytest.raises(UsageError) as err:
        settings_from_env({}, timeout=value)
    assert err.value.exit_code is ExitCode.USAGE
    assert str(err.value).startswith(f"--timeout={value!r} ")
    assert "\n" not in str(err.value)
    with pytest.raises(UsageError, match=f"^DIND_PREFLIGHT_TIMEOUT={value!r} "):
        settings_from_env({"DIND_PREFLIGHT_TIMEOUT": value})


def test_the_same_mistake_reads_the_same_in_every_command() -> None:
    """One parser of seconds: run's, diagnose's (kube) and report's (GitLab) say it alike."""
    from preflight.gitlab.client import settings_from_env as gitlab_settings
    from preflight.kube.settings import settings_from

    messages = []
    for build in (
        lambda: settings_from_env({}, timeout="0"),
        lambda: settings_from({}, timeout="0"),
        lambda: gitlab_settings({}, timeout_s="0"),
    ):
        with pytest.raises(UsageError) as err:
            build()
        messages.append(str(err.value))
    for message in messages:
        assert re.fullmatch(r"--timeout='0' must be more than 0 to \d+ seconds", message), message


def test_actions() -> None:
    assert settings_from_env({}, admin=ADMIN).action is Action.AUTO
    assert settings_from_env({}, action="pause-runner", admin=ADMIN).action is Action.PAUSE_RUNNER
    assert settings_from_env({}, action="taint-node", admin=ADMIN).action is Action.TAINT_NODE
    assert settings_from_env({"DIND_PREFLIGHT_ACTION": " none "}, admin=ADMIN).action is Action.NONE
    # Without the admin's file job mode never acts, whatever the job asks for.
    assert settings_from_env({}, action="pause-runner").action is Action.NONE
    with pytest.raises(
        UsageError, match=r"^--action='pause' must be one of auto, pause-runner, taint-node, none$"
    ):
        settings_from_env({}, action="pause")


def test_flags_win_over_environment(tmp_path: Path) -> None:
    env = {"DIND_PREFLIGHT_TIMEOUT": "7", "DIND_PREFLIGHT_ACTION": "none"}
    settings = settings_from_env(env, timeout="3", action="taint-node", admin=ADMIN)
    assert settings.timeout_s == 3.0 and settings.action is Action.TAINT_NODE
    from_env = settings_from_env(env, admin=ADMIN)
    assert from_env.timeout_s == 7.0 and from_env.action is Action.NONE


def test_where_the_evidence_comes_from(tmp_path: Path) -> None:
    assert settings_from_env({"KUBERNETES_SERVICE_HOST": "10.0.0.1"}).in_cluster
    host = settings_from_env({"DIND_PREFLIGHT_NODE_ROOT": str(tmp_path)})
    assert not host.in_cluster and host.node_root == str(tmp_path)
    assert settings_from_env({}).node_root is None


@pytest.mark.parametrize(
    ("env", "api"),
    [
        ({"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, True),
        ({"KUBECONFIG": "/home/ci/.kube/config"}, True),
        ({"KUBECONFIG": " "}, False),
        ({}, False),
    ],
)
def test_whether_a_kubernetes_api_can_be_tried(env: dict[str, str], api: bool) -> None:
    # plan_actions' `auto` pauses at once when there is no API to taint a node through
    assert settings_from_env(env).kubernetes_api is api


def test_node_root_must_exist(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"^DIND_PREFLIGHT_NODE_ROOT=.* does not exist$") as err:
        settings_from_env({"DIND_PREFLIGHT_NODE_ROOT": str(tmp_path / "missing")})
    assert err.value.exit_code is ExitCode.NO_INPUT
    (tmp_path / "file").write_text("")
    with pytest.raises(InputError, match=r"^--node-root=.* is not a directory$"):
        settings_from_env({}, node_root=str(tmp_path / "file"))


def test_fleet_mode_jobs_take_no_action_themselves() -> None:
    url = "http://reporter.dind-preflight.svc:8080"
    fleet_admin = admin_config(reporter_url=url)
    fleet = settings_from_env({"DIND_PREFLIGHT_ACTION": "pause-runner"}, admin=fleet_admin)
    assert fleet.action is Action.NONE
    assert fleet.reporter_url == url
    assert settings_from_env({}, admin=ADMIN).action is Action.AUTO
    # A variable naming a reporter only takes powers away; reports go to the admin's URL only.
    env = {"DIND_PREFLIGHT_REPORTER_URL": "http://evil.example:8080"}
    bent = settings_from_env(env, admin=ADMIN)
    assert bent.action is Action.NONE and bent.reporter_url is None
    assert any("DIND_PREFLIGHT_REPORTER_URL" in note for note in bent.notes)
