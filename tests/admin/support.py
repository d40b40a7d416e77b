"""The admin's file for tests: built in memory (unit tests pass it as an argument), or put at its
fixed path inside a private mount namespace (process tests, :func:`in_admin_namespace`).

A job cannot reach either: the path is a constant of the program, and the mount namespace is
the test's own (as the kubelet mounts a ConfigMap into a job pod's own mount namespace).
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from preflight.admin.anchors import Anchors, anchors_from
from preflight.admin.config import ADMIN_CONFIG_PATH, AdminConfig, parse_admin_config
from preflight.kube.settings import SERVICE_ACCOUNT_DIR

HELPER_DIGEST = "sha256:" + "ab" * 32
HELPER_IMAGE = f"registry.example.com/dind-preflight@{HELPER_DIGEST}"
GITLAB = "https://gitlab.example.com"


def admin_config(**keys: Any) -> AdminConfig:
    """A valid admin configuration; ``keys`` override the JSON keys."""
    data: dict[str, Any] = {"gitlab_url": GITLAB, "helper_images": [HELPER_IMAGE]}
    data.update(keys)
    return parse_admin_config(data, "/etc/dind-preflight/config.json")


def trusted_anchors(**keys: Any) -> Anchors:
    """Anchors that hold: the admin's file, no variable bending the evidence."""
    return anchors_from({}, admin_config(**keys))


def namespaces_work() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "true"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


# The admin's file lives at a fixed path: tests put it there in a mount namespace of their own.
# make test runs as root (dockerd needs it too), so a machine without them fails, not skips.
needs_mount_namespace = pytest.mark.usefixtures("mount_namespaces")


def in_admin_namespace(
    command: Sequence[str],
    workdir: Path,
    *,
    config: dict[str, Any] | None,
    service_account: Path | None = None,
    read_only: Sequence[tuple[Path, str]] = (),
) -> list[str]:
    """``command`` run in a private mount namespace where the admin's file is at its fixed
    path (``config`` None: absent), ``service_account`` at the standard service-account path,
    and each (source, target) of ``read_only`` bind-mounted read-only, as the runner's
    configuration mounts them. The machine's own /etc and /run are untouched (overlays)."""
    workdir.mkdir(parents=True, exist_ok=True)
    script = ["set -e"]
    for lower in ("/etc", "/run"):
        up, work = (
            workdir / f"up{lower.replace('/', '-')}",
            workdir / f"work{lower.replace('/', '-')}",
        )
        up.mkdir(exist_ok=True)
        work.mkdir(exist_ok=True)
        script.append(
            f"mount -t overlay overlay -o lowerdir={lower},upperdir={shlex.quote(str(up))},"
            f"workdir={shlex.quote(str(work))} {lower}"
        )
    if config is not None:
        source = workdir / "config.json"
        source.write_text(json.dumps(config))
        target = Path(ADMIN_CONFIG_PATH)
        script.append(f"mkdir -p {target.parent}")
        script.append(f"cp {shlex.quote(str(source))} {target}")
    if service_account is not None:
        real = SERVICE_ACCOUNT_DIR.replace("/var/run/", "/run/")
        script.append(f"mkdir -p {real}")
        script.append(f"mount --bind {shlex.quote(str(service_account))} {real}")
    for source_dir, target in read_only:
        quoted = shlex.quote(target)
        script.append(f"mkdir -p {quoted}")
        script.append(f"mount --bind {shlex.quote(str(source_dir))} {quoted}")
        script.append(f"mount -o remount,bind,ro {quoted}")
    script.append('exec "$@"')
    return [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        "\n".join(script),
        "sh",
        *command,
    ]
