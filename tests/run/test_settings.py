"""Run settings: environment and flags, validation, skip rule, mode detection."""

from __future__ import annotations

from pathlib import Path

import pytest

from preflight.actions.plan import Action
from preflight.errors import UsageError
from preflight.exitcodes import ExitCode
from preflight.run.settings import (
    DEFAULT_TIMEOUT_S,
    Mode,
    parse_action,
    parse_timeout,
    settings_from_env,
    skip_reason,
)


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
    assert parse_timeout(value) == expected


@pytest.mark.parametrize("value", ["abc", "0", "-1", "nan", "inf", "3601"])
def test_bad_timeouts_are_usage_errors(value: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_timeout(value)
    assert err.value.exit_code is ExitCode.USAGE
    assert "\n" not in str(err.value)


def test_actions() -> None:
    assert parse_action(None) is Action.AUTO
    assert parse_action("pause-runner") is Action.PAUSE_RUNNER
    assert parse_action("taint-node") is Action.TAINT_NODE
    assert parse_action(" none ") is Action.NONE
    with pytest.raises(UsageError, match="auto, pause-runner, taint-node, none"):
        parse_action("pause")


def test_flags_win_over_environment(tmp_path: Path) -> None:
    env = {"DIND_PREFLIGHT_TIMEOUT": "7", "DIND_PREFLIGHT_ACTION": "none"}
    settings = settings_from_env(env, timeout="3", action="taint-node")
    assert settings.timeout_s == 3.0 and settings.action is Action.TAINT_NODE
    from_env = settings_from_env(env)
    assert from_env.timeout_s == 7.0 and from_env.action is Action.NONE


def test_mode_detection(tmp_path: Path) -> None:
    assert settings_from_env({"KUBERNETES_SERVICE_HOST": "10.0.0.1"}).mode is Mode.KUBERNETES
    host = settings_from_env({"DIND_PREFLIGHT_NODE_ROOT": str(tmp_path)})
    assert host.mode is Mode.HOST_ROOT and host.node_root == str(tmp_path)
    assert settings_from_env({}).mode is Mode.JOB_PROC


def test_node_root_must_exist(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a directory"):
        settings_from_env({"DIND_PREFLIGHT_NODE_ROOT": str(tmp_path / "missing")})


def test_fleet_mode_jobs_take_no_action_themselves() -> None:
    env = {"DIND_PREFLIGHT_REPORTER_URL": "http://reporter.dind-preflight.svc:8080"}
    fleet = settings_from_env({**env, "DIND_PREFLIGHT_ACTION": "pause-runner"})
    assert fleet.action is Action.NONE
    assert fleet.reporter_url == env["DIND_PREFLIGHT_REPORTER_URL"]
    assert settings_from_env({}).action is Action.AUTO
