"""The actions a user can choose against a broken node or runner (``DIND_PREFLIGHT_ACTION``)."""

from enum import Enum


class Action(str, Enum):
    """What to do against a node or runner fault."""

    AUTO = "auto"  # taint the node when the job may patch nodes; else pause the runner
    PAUSE_RUNNER = "pause-runner"
    TAINT_NODE = "taint-node"
    NONE = "none"
