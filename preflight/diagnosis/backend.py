"""Which iptables backend the dind service used: evidence in a fixed order, first one wins. Pure.

docker:dind's entrypoint (docker-library/docker ``dockerd-entrypoint.sh``, images from 24.0.7)
chooses the backend before it starts dockerd, then prints ``iptables --version``:

- ``DOCKER_IPTABLES_LEGACY`` set (``${DOCKER_IPTABLES_LEGACY+x}``): non-empty -> legacy, empty ->
  iptables-nft;
- else legacy when ``/proc/net/ip_tables_names``, ``ip6_tables_names`` or ``arp_tables_names``
  is non-empty in the container's network namespace (the pod's);
- else iptables-nft when ``iptables -nL`` works, after ``modprobe nf_tables`` if needed;
- else legacy when ``modprobe ip_tables ip6_tables`` makes iptables-legacy work;
- then ``export PATH=/usr/local/sbin/.iptables-legacy:$PATH`` for legacy, and
  ``iptables --version`` -> ``iptables v1.8.10 (nf_tables)`` or ``iptables v1.8.10 (legacy)``.

Older images ship legacy iptables only. The evidence order (issue 10, ``linux-modules.md``):
the entrypoint's version line, the backend a failing iptables message prints (the prefix
``iptables v1.8.9 (legacy): `` of its error), the service's
``DOCKER_IPTABLES_LEGACY``, legacy tables in use, the dind image version; else unknown.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from preflight.diagnosis.model import BackendEvidence

LEGACY = "legacy"
NF_TABLES = "nf_tables"
UNKNOWN = "unknown"

# `iptables --version` alone on a line, e.g. "iptables v1.8.9 (legacy)" / "(nf_tables)": what
# Debian's iptables-legacy and iptables-nft print (tests/probe/test_backends_real.py runs them).
_VERSION_LINE = re.compile(r"^\s*iptables v\d+\.\d+(?:\.\d+)? \((legacy|nf_tables)\)\s*$")
# The same prefix in front of an error, e.g. "iptables v1.8.9 (legacy): can't initialize ..."
# (tests/kube/logs/*.log: real dockerd whose iptables failed that way).
_MESSAGE_BACKEND = re.compile(r"\biptables v\d+\.\d+(?:\.\d+)? \((legacy|nf_tables)\): ")
# docker:<version>-dind, docker:<version>, docker:dind-<version>... the first version number.
_IMAGE_VERSION = re.compile(r"(?:^|[:@/-])(\d+)\.(\d+)(?:\.(\d+))?(?:[-@.]|$)")
FIRST_NFT_IMAGE = (24, 0, 7)  # docker-library/docker added the backend choice in 24.0.7


def detect_backend(
    log_lines: Iterable[str],
    *,
    legacy_env: str | None = None,
    legacy_tables: Iterable[str] | None = None,
    legacy_tables_where: str = "",
    image: str | None = None,
) -> BackendEvidence:
    """The backend and the first evidence (in the documented order) that names it."""
    lines = [line.rstrip("\r\n") for line in log_lines]
    for line in lines:
        found = _VERSION_LINE.match(line)
        if found:
            return BackendEvidence(
                found.group(1),
                "entrypoint-line",
                f"the dind entrypoint printed `{line.strip()[:80]}`",
            )
    for line in lines:
        found = _MESSAGE_BACKEND.search(line)
        if found:
            return BackendEvidence(
                found.group(1),
                "iptables-message",
                f"a failing iptables command printed `{found.group(0).strip()}`",
            )
    if legacy_env is not None:
        backend = LEGACY if legacy_env else NF_TABLES
        shown = "non-empty" if legacy_env else "empty"
        return BackendEvidence(
            backend,
            "service-env",
            f"DOCKER_IPTABLES_LEGACY is set ({shown}) in the dind service's spec",
        )
    tables = [t for t in (legacy_tables or ()) if t.strip()]
    if tables:
        where = f" in {legacy_tables_where}" if legacy_tables_where else ""
        return BackendEvidence(
            LEGACY,
            "legacy-tables",
            f"legacy iptables tables are in use{where} ({', '.join(tables[:5])}): the "
            "entrypoint picks iptables-legacy",
        )
    version = image_version(image)
    if version is not None and version < FIRST_NFT_IMAGE:
        shown = ".".join(str(p) for p in version)
        return BackendEvidence(
            LEGACY,
            "image-version",
            f"the dind image {image} ({shown}) predates 24.0.7 and has only legacy iptables",
        )
    return BackendEvidence(UNKNOWN, "none", "nothing seen says which iptables backend dind used")


def image_version(image: str | None) -> tuple[int, int, int] | None:
    """The docker version in a ``docker:`` image reference's tag, e.g. ``docker:20.10-dind``."""
    if not image:
        return None
    name, _, tag = image.partition("@")[0].rpartition(":")
    if not name or "/" in tag:
        return None
    found = _IMAGE_VERSION.search(":" + tag)
    if found is None:
        return None
    return int(found.group(1)), int(found.group(2)), int(found.group(3) or 0)
