"""The admin's file: its keys, one-line errors (exit 64, 66 for a named file that is missing),
and that a variable can only narrow what it allows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from preflight.actions.action import Action
from preflight.admin.config import (
    ADMIN_CONFIG_PATH,
    absent_reason,
    effective_action,
    load_admin_config,
    parse_admin_config,
)
from preflight.errors import InputError, UsageError
from preflight.exitcodes import ExitCode
from tests.admin.support import GITLAB, HELPER_DIGEST, HELPER_IMAGE, admin_config


def test_the_path_is_fixed_and_absence_is_not_an_error(tmp_path: Path) -> None:
    assert ADMIN_CONFIG_PATH == "/etc/dind-preflight/config.json"
    assert load_admin_config(str(tmp_path / "config.json")) is None
    line = absent_reason()
    assert "\n" not in line and "no quarantine" in line and ADMIN_CONFIG_PATH in line


def test_a_full_file_is_read(tmp_path: Path) -> None:
    token = tmp_path / "gitlab-token"
    token.write_text("glpat-xxxxxxxxxxxxxxxx")
    path = tmp_path / "config.json"
    path.write_text(
        json.dumps(
            {
                "gitlab_url": "https://GitLab.example.com/api/v4/",
                "token_file": str(token),
                "helper_images": [HELPER_IMAGE],
                "actions": ["pause-runner"],
                "reporter_url": "http://dind-preflight-reporter.dind-preflight.svc:8080/",
                "node_root": "/host/",
                "api_server": "10.96.0.1:443",
                "agent_interval_seconds": 60,
            }
        )
    )
    admin = load_admin_config(str(path))
    assert admin is not None
    assert admin.gitlab_url == "https://gitlab.example.com"
    assert admin.token_file == str(token)
    assert admin.helper_digests == frozenset({HELPER_DIGEST})
    assert admin.actions == (Action.PAUSE_RUNNER,)
    assert admin.reporter_url == "http://dind-preflight-reporter.dind-preflight.svc:8080"
    assert admin.node_root == "/host"
    assert admin.api_host_port == ("10.96.0.1", "443")
    assert admin.agent_interval_s == 60.0


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        (
            {"gitlab_url": "http://gitlab.example.com"},
            r"gitlab_url='http://gitlab.example.com' "
            r"must be an https URL",
        ),
        ({"gitlab_url": ""}, r"gitlab_url is required"),
        (
            {"helper_images": ["registry.example.com/dind-preflight:1.0"]},
            r"helper_images: "
            r"'registry.example.com/dind-preflight:1.0' is not an image pinned by digest",
        ),
        (
            {"actions": ["pause-runner", "drain"]},
            r"actions='drain' must be one of "
            r"pause-runner, taint-node",
        ),
        ({"node_root": "host"}, r"node_root='host' must be an absolute path"),
        ({"api_server": "https://10.0.0.1"}, r"api_server='https://10.0.0.1' must be host:port"),
        ({"agent_interval_seconds": -1}, r"agent_interval_seconds='-1' must be more than 0"),
        ({"gitlab_token": "x"}, r"unknown key 'gitlab_token'"),
    ],
)
def test_each_bad_key_is_one_line_naming_it(keys: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message) as err:
        admin_config(**keys)
    assert err.value.exit_code is ExitCode.USAGE
    assert "\n" not in str(err.value)
    assert str(err.value).startswith("/etc/dind-preflight/config.json")


def test_a_named_file_that_is_missing_is_exit_66(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"token_file='.*/missing' does not exist$") as err:
        admin_config(token_file=str(tmp_path / "missing"))
    assert err.value.exit_code is ExitCode.NO_INPUT


def test_a_file_that_is_not_an_object_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text("[]")
    with pytest.raises(UsageError, match="must hold a JSON object"):
        load_admin_config(str(path))
    with pytest.raises(UsageError, match="must hold a JSON object"):
        parse_admin_config("https://gitlab.example.com")
    assert admin_config().gitlab_url == GITLAB


@pytest.mark.parametrize(
    ("allowed", "chosen", "taken"),
    [
        (["pause-runner", "taint-node"], Action.AUTO, Action.AUTO),
        (["pause-runner"], Action.AUTO, Action.PAUSE_RUNNER),
        (["taint-node"], Action.AUTO, Action.TAINT_NODE),
        ([], Action.AUTO, Action.NONE),
        (["pause-runner"], Action.TAINT_NODE, Action.NONE),
        (["taint-node"], Action.PAUSE_RUNNER, Action.NONE),
        (["pause-runner", "taint-node"], Action.NONE, Action.NONE),
    ],
)
def test_a_variable_can_only_narrow_the_actions(
    allowed: list[str], chosen: Action, taken: Action
) -> None:
    action, _ = effective_action(chosen, admin_config(actions=allowed))
    assert action is taken


def test_without_the_file_no_action_whatever_the_job_asks() -> None:
    for chosen in Action:
        assert effective_action(chosen, None)[0] is Action.NONE
