"""Settings from flags and environment; the one-line RBAC advice for 401/403."""

from __future__ import annotations

import pytest

from preflight.errors import UsageError
from preflight.exitcodes import ExitCode
from preflight.kube import permissions
from preflight.kube.settings import KubeSettings, parse_timeout, settings_from


def test_defaults_from_a_gitlab_job_environment() -> None:
    env = {
        "HOSTNAME": "runner-abc-project-1-concurrent-0-xyz",
        "CI_JOB_ID": "4242",
        "KUBERNETES_SERVICE_HOST": "10.96.0.1",
        "KUBERNETES_SERVICE_PORT": "443",
    }
    settings = settings_from(env)
    assert settings == KubeSettings(
        pod_name="runner-abc-project-1-concurrent-0-xyz", job_id="4242", in_cluster=True
    )
    assert settings.helper_deadline_s == 60


def test_flags_win_over_environment() -> None:
    env = {
        "DIND_PREFLIGHT_SERVICE_CONTAINER": "svc-1",
        "DIND_PREFLIGHT_HELPER_IMAGE": "env/image:1",
        "DIND_PREFLIGHT_HELPER_PULL_POLICY": "Always",
        "DIND_PREFLIGHT_HELPER_PULL_SECRETS": "a, b,,",
        "DIND_PREFLIGHT_DIAGNOSE_TIMEOUT": "12",
        "DIND_PREFLIGHT_NO_HELPER": "true",
        "KUBECONFIG": "/tmp/kc",
    }
    from_env = settings_from(env)
    assert from_env.service_container == "svc-1"
    assert from_env.helper_image == "env/image:1"
    assert from_env.helper_pull_policy == "Always"
    assert from_env.helper_pull_secrets == ("a", "b")
    assert from_env.timeout == 12.0
    assert from_env.use_helper is False
    assert from_env.kubeconfig == "/tmp/kc" and not from_env.in_cluster
    flags = settings_from(
        env,
        timeout="5",
        helper_image="flag/image:2",
        helper_pull_policy="never",
        helper_pull_secrets=["c"],
        service_container="docker",
        host_root="/host",
        proc="/p",
    )
    assert (flags.timeout, flags.helper_image, flags.helper_pull_policy) == (
        5.0,
        "flag/image:2",
        "Never",
    )
    assert flags.helper_pull_secrets == ("c",)
    assert flags.service_container == "docker"
    assert (flags.host_root, flags.proc) == ("/host", "/p")


@pytest.mark.parametrize("bad", ["0", "-1", "nan", "inf", "abc", "1s"])
def test_invalid_timeouts_are_usage_errors(bad: str) -> None:
    with pytest.raises(UsageError) as error:
        parse_timeout(bad)
    assert error.value.exit_code == ExitCode.USAGE
    assert "\n" not in str(error.value)


def test_invalid_pull_policy() -> None:
    with pytest.raises(UsageError, match="IfNotPresent, Always, Never"):
        settings_from({}, helper_pull_policy="Sometimes")


def test_forbidden_advice_names_the_rule_and_the_user() -> None:
    body = (
        '{"kind":"Status","message":"pods \\"x\\" is forbidden: User '
        '\\"system:serviceaccount:ci:default\\" cannot get resource \\"pods/log\\" in API group '
        '\\"\\" in the namespace \\"ci\\"","code":403}'
    )
    advice = permissions.forbidden_advice(
        permissions.GET_POD_LOG, "ci", 403, body.replace('\\"', '"')
    )
    assert advice == (
        "cannot get pods/log in namespace ci: forbidden (403) for system:serviceaccount:ci:default; "
        "grant verb 'get' on 'pods/log' in namespace ci to read the dind service's log "
        "(see deploy/rbac/role.yaml)"
    )


def test_forbidden_advice_for_cluster_scoped_and_unauthorized() -> None:
    patch = permissions.forbidden_advice(permissions.PATCH_NODE, "ci", 403)
    assert "cluster-wide" in patch and "deploy/rbac/clusterrole-taint.yaml" in patch
    unauthorized = permissions.forbidden_advice(permissions.GET_POD, "ci", 401)
    assert "unauthorized (401)" in unauthorized and "token" in unauthorized


def test_pod_security_rejection_is_not_called_an_rbac_problem() -> None:
    body = (
        'pods "dind-preflight-node-1-abc" is forbidden: violates PodSecurity "baseline:latest": '
        'hostPath volumes (volume "host-root")'
    )
    advice = permissions.forbidden_advice(permissions.CREATE_POD, "ci", 403, body)
    assert "Pod Security admission" in advice and 'hostPath volumes (volume "host-root")' in advice
    assert "grant verb" not in advice
