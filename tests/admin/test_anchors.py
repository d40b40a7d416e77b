"""The anchors of job mode: variables that bend the evidence switch quarantine off; the
identity comes from a SelfSubjectReview; a node root counts only as the admin's read-only
mount. Pure parts, with the API server's own answer shapes."""

from __future__ import annotations

from preflight.admin.anchors import anchors_from
from preflight.admin.identity import Identity, identity_from_review
from preflight.admin.mounts import read_only_mount
from preflight.diagnosis.trust import helper_image_trust, host_root_trust
from tests.admin.support import HELPER_DIGEST, HELPER_IMAGE, admin_config

# What kube-apiserver answers for a pod-bound projected token (Kubernetes 1.30+), see
# https://kubernetes.io/docs/reference/access-authn-authz/service-accounts-admin/
REVIEW = {
    "kind": "SelfSubjectReview",
    "apiVersion": "authentication.k8s.io/v1",
    "metadata": {"creationTimestamp": "2026-12-07T13:00:00Z"},
    "status": {
        "userInfo": {
            "username": "system:serviceaccount:ci:dind-preflight",
            "uid": "2b3c9f4e-8f0c-4c1e-a8a3-2f6e3a7d1c10",
            "groups": [
                "system:serviceaccounts",
                "system:serviceaccounts:ci",
                "system:authenticated",
            ],
            "extra": {
                "authentication.kubernetes.io/credential-id": ["JTI=7c9a"],
                "authentication.kubernetes.io/node-name": ["worker-3"],
                "authentication.kubernetes.io/node-uid": ["5d1e"],
                "authentication.kubernetes.io/pod-name": ["runner-abc-project-1-concurrent-0"],
                "authentication.kubernetes.io/pod-uid": ["9f2a"],
            },
        }
    },
}


def test_the_review_names_pod_and_node() -> None:
    identity = identity_from_review(REVIEW)
    assert identity == Identity(
        "system:serviceaccount:ci:dind-preflight", "runner-abc-project-1-concurrent-0", "worker-3"
    )
    assert identity.missing is None


def test_a_token_without_pod_claims_names_nothing() -> None:
    legacy = {"status": {"userInfo": {"username": "system:serviceaccount:ci:default"}}}
    identity = identity_from_review(legacy)
    assert identity.pod is None and identity.node is None
    assert identity.missing is not None and "pod and node" in identity.missing
    assert identity_from_review({"status": "nonsense"}) == Identity(None, None, None)
    two = {"status": {"userInfo": {"extra": {"authentication.kubernetes.io/pod-name": ["a", "b"]}}}}
    assert identity_from_review(two).pod is None  # ambiguous: not a claim


def test_without_the_admin_file_quarantine_is_off() -> None:
    anchors = anchors_from({}, None)
    assert not anchors.quarantine_possible
    assert "no admin configuration" in anchors.blockers[0]


def test_kubernetes_service_host_elsewhere_switches_quarantine_off() -> None:
    admin = admin_config(api_server="10.96.0.1:443")
    assert anchors_from(
        {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}, admin
    ).quarantine_possible
    bent = anchors_from(
        {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": "6443"}, admin
    )
    assert not bent.quarantine_possible
    assert bent.blockers == (
        "KUBERNETES_SERVICE_HOST=127.0.0.1:6443 is not the API server 10.96.0.1:443 of "
        "/etc/dind-preflight/config.json",
    )
    # The default names the Service; an address it does not resolve to is elsewhere, found
    # when a diagnosis needs it (a lookup, not on the healthy path).
    default = anchors_from({"KUBERNETES_SERVICE_HOST": "192.0.2.7"}, admin_config())
    assert default.blockers == ()
    assert default.late_blockers() == (
        "KUBERNETES_SERVICE_HOST=192.0.2.7:? is not the API server kubernetes.default.svc:443 of "
        "/etc/dind-preflight/config.json",
    )
    wrong_port = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "6443"}
    assert anchors_from(wrong_port, admin_config()).blockers


def test_a_kubeconfig_switches_quarantine_off() -> None:
    """Outside a pod a job's KUBECONFIG would name its own API server (and its answers)."""
    bent = anchors_from({"KUBECONFIG": "/builds/x/kubeconfig"}, admin_config())
    assert not bent.quarantine_possible and "KUBECONFIG" in bent.blockers[0]


def test_another_service_account_directory_switches_quarantine_off() -> None:
    admin = admin_config()
    ok = {"DIND_PREFLIGHT_SERVICE_ACCOUNT_DIR": "/var/run/secrets/kubernetes.io/serviceaccount/"}
    assert anchors_from(ok, admin).quarantine_possible
    bent = anchors_from({"DIND_PREFLIGHT_SERVICE_ACCOUNT_DIR": "/tmp/sa"}, admin)
    assert not bent.quarantine_possible and "service-account directory" in bent.blockers[0]


def test_helper_evidence_counts_only_for_the_admins_digest() -> None:
    digests = frozenset({HELPER_DIGEST})
    assert helper_image_trust(HELPER_IMAGE, digests).node_side
    assert helper_image_trust(f"docker-pullable://{HELPER_IMAGE}", digests).node_side
    assert helper_image_trust(HELPER_DIGEST, digests).node_side
    # A job-chosen image pinned by digest: a digest, but not the admin's.
    other = "registry.example.com/evil@sha256:" + "cd" * 32
    assert not helper_image_trust(other, digests).node_side
    assert not helper_image_trust(None, digests).node_side
    assert not helper_image_trust(HELPER_IMAGE, frozenset()).node_side


MOUNTINFO = """\
22 1 0:21 / / rw,relatime shared:1 - overlay overlay rw,lowerdir=/l
35 22 8:1 / /host ro,relatime shared:2 - ext4 /dev/sda1 rw
36 22 8:1 /home/ci /work\\040dir rw,relatime shared:3 - ext4 /dev/sda1 rw
37 22 8:1 /x /remounted ro,relatime - ext4 /dev/sda1 rw
38 22 8:1 /x /remounted rw,relatime - ext4 /dev/sda1 rw
"""


def test_read_only_mount_points_from_mountinfo() -> None:
    assert read_only_mount("/host", MOUNTINFO)
    assert read_only_mount("/host/", MOUNTINFO)
    assert not read_only_mount("/work dir", MOUNTINFO)  # a rw mount (escaped space)
    assert not read_only_mount("/host/etc", MOUNTINFO)  # a directory inside, not a mount point
    assert not read_only_mount("/remounted", MOUNTINFO)  # the topmost mount is rw
    assert not read_only_mount("/tmp/node", MOUNTINFO)


def test_a_node_root_counts_only_as_the_admins_read_only_mount() -> None:
    assert host_root_trust("/host", "/host", True).node_side
    assert not host_root_trust("/host", "/host", False).node_side
    assert not host_root_trust("/tmp/node", "/host", True).node_side
    assert not host_root_trust("/host", None, True).node_side


def test_agent_interval_is_the_admins_not_a_variables() -> None:
    """DIND_PREFLIGHT_AGENT_INTERVAL=1e9 would make a stale DindReady=False look fresh."""
    from preflight.kube.settings import settings_from
    from tests.admin.support import trusted_anchors

    env = {"DIND_PREFLIGHT_AGENT_INTERVAL": "3600"}
    anchors = trusted_anchors(agent_interval_seconds=120)
    assert settings_from(env, anchors=anchors).agent_interval_s == 120.0
    assert settings_from(env).agent_interval_s == 3600.0  # no admin file: nothing quarantines


def test_the_helper_image_is_the_admins_not_a_variables() -> None:
    from preflight.kube.settings import settings_from
    from tests.admin.support import trusted_anchors

    env = {"DIND_PREFLIGHT_HELPER_IMAGE": "registry.example.com/job@sha256:" + "cd" * 32}
    assert settings_from(env, anchors=trusted_anchors()).helper_image == HELPER_IMAGE
