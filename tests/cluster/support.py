"""What the real-cluster tests share: waiting on the API, namespaces, the docs' commands."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from tests.cluster.controlplane import ControlPlane

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def wait_for(
    what: str,
    check: Callable[[], T | None],
    timeout: float = 60.0,
    every: float = 0.25,
    explain: Callable[[], str] | None = None,
) -> T:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` after ``timeout``
    (with what ``explain`` says of the cluster then)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except Exception as exc:  # a read that fails now may pass once the object exists
            last = exc
        else:
            if last:
                return last
        time.sleep(every)
    told = f"\n{explain()}" if explain is not None else ""
    raise AssertionError(
        f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r}){told}"
    )


def cluster_state(cluster: ControlPlane, namespace: str) -> str:
    """Pods, Events and the pods' logs of a namespace: what a person runs when a rollout stalls."""
    parts = [
        cluster.kubectl("get", "pods,nodes", "-n", namespace, "-o", "wide", check=False).stdout,
        cluster.kubectl("get", "events", "-n", namespace, check=False).stdout[-3000:],
    ]
    for pod in pods(cluster, namespace):
        name = pod["metadata"]["name"]
        parts.append(
            f"--- {name}: {json.dumps(pod.get('status', {}).get('containerStatuses'))[:1500]}"
        )
        parts.append(
            cluster.kubectl(
                "logs", "-n", namespace, name, "--all-containers", "--tail=30", check=False
            ).stdout
        )
    return "\n".join(parts)


def get_json(cluster: ControlPlane, *args: str) -> Any:
    return json.loads(cluster.kubectl("get", *args, "-o", "json").stdout)


def pods(
    cluster: ControlPlane, namespace: str, selector: str | None = None
) -> list[dict[str, Any]]:
    args = ["pods", "-n", namespace] + (["-l", selector] if selector else [])
    return list(get_json(cluster, *args)["items"])


def node(cluster: ControlPlane, name: str) -> dict[str, Any]:
    return dict(get_json(cluster, "node", name))


def condition(node_object: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for item in node_object.get("status", {}).get("conditions", []):
        if item["type"] == kind:
            return dict(item)
    return None


def taint_keys(node_object: dict[str, Any]) -> list[str]:
    return [t["key"] for t in node_object.get("spec", {}).get("taints") or []]


def fenced_blocks(markdown: Path) -> list[tuple[int, str]]:
    """Every fenced code block of a Markdown file, with the line it starts on."""
    blocks: list[tuple[int, str]] = []
    lines = markdown.read_text().splitlines()
    inside, start, body = False, 0, []
    for number, line in enumerate(lines, 1):
        if line.lstrip().startswith("```"):
            if inside:
                blocks.append((start, "\n".join(body)))
                inside, body = False, []
            else:
                inside, start = True, number
        elif inside:
            body.append(line)
    return blocks


def kubectl_commands(markdown: Path, after: str, until: str | None = None) -> list[list[str]]:
    """The ``kubectl`` commands of the code blocks between the line containing ``after`` and the
    one containing ``until`` (else the first block that has any), as argv lists: comments
    dropped, backslash continuations joined. The docs' own commands, run by the tests as written."""
    text = markdown.read_text()
    start_line = text[: text.index(after)].count("\n") + 1
    end_line = text[: text.index(until, text.index(after))].count("\n") + 1 if until else None
    commands: list[list[str]] = []
    for start, body in fenced_blocks(markdown):
        if start <= start_line or (end_line is not None and start >= end_line):
            continue
        joined = re.sub(r"\\\n\s*", " ", body)
        for line in joined.splitlines():
            line = re.sub(r"(^|\s+)#.*$", "", line).strip()
            if line.startswith("kubectl "):
                commands.append(shlex.split(line)[1:])
        if commands and end_line is None:
            return commands
    if not commands:
        raise AssertionError(f"no kubectl command after {after!r} in {markdown}")
    return commands


def can_i(
    cluster: ControlPlane, user: str, verb: str, resource: str, namespace: str | None
) -> bool:
    """``kubectl auth can-i`` for ``user``; ``resource`` may name a subresource (``pods/exec``),
    which kubectl takes only as ``--subresource`` (``pods/exec`` alone means the pod "exec")."""
    kind, _, sub = resource.partition("/")
    args = ["auth", "can-i", verb, kind, f"--as={user}"]
    args += [f"--subresource={sub}"] if sub else []
    args += ["-n", namespace] if namespace else ["--all-namespaces"]
    answer = cluster.kubectl(*args, check=False).stdout.strip()
    assert answer in ("yes", "no"), answer
    return answer == "yes"


def patch_as(
    cluster: ControlPlane, token: str, path: str, body: Any, kind: str = "strategic-merge-patch"
) -> tuple[int, str]:
    """One PATCH with ``token``, nothing read first (kubectl patch GETs before it patches, which
    a patch-only grant cannot): the answer's status and text."""
    import requests

    session = requests.Session()
    session.trust_env = False
    answer = session.patch(
        cluster.url + path,
        data=json.dumps(body),
        headers={"Authorization": f"Bearer {token}", "Content-Type": f"application/{kind}+json"},
        verify=str(cluster.ca_file),
        timeout=30,
    )
    return answer.status_code, answer.text


ROOTS = REPO / "demo" / "roots"


def node_root(fixture: str, dest: Path) -> Path:
    """A node's own copy of a demo node root (its ``/`` for the test kubelet), to change later."""
    shutil.copytree(ROOTS / fixture, dest, symlinks=True)
    return dest


def fix_node(root: Path) -> None:
    """The admin's fix on a field-report node, as centos8-fixed has it: the modules listed in
    modules-load.d and loaded now."""
    fixed = ROOTS / "centos8-fixed"
    shutil.copytree(fixed / "etc", root / "etc", dirs_exist_ok=True, symlinks=True)
    (root / "proc" / "modules").write_text((fixed / "proc" / "modules").read_text())
