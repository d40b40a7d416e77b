"""Node analysis: will this node run dind now, and still after its next reboot?

Entry points: :func:`analyze_host` (a host root), :func:`analyze_loaded_only` (only the job's
/proc), :func:`render_text` (the human report); the JSON is ``preflight.jsonable.to_json(report)``.
They are imported on first use, so that importing the data contract (``preflight.node.model``)
stays cheap for the probe.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from preflight.node.analysis import DEFAULT_MODULES
    from preflight.node.api import analyze_host, analyze_loaded_only
    from preflight.node.render import render_text

__all__ = ["DEFAULT_MODULES", "analyze_host", "analyze_loaded_only", "render_text"]

_HOMES = {
    "DEFAULT_MODULES": "preflight.node.analysis",
    "analyze_host": "preflight.node.api",
    "analyze_loaded_only": "preflight.node.api",
    "render_text": "preflight.node.render",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
