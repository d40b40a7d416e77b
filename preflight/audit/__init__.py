"""``dind-preflight audit``: every node's readiness for dind now and after its next reboot.

From the agent's conditions where they are fresh (``sources``), otherwise from a helper pod per
node (``helper``) run with bounded parallelism (``fleet``); results rendered by ``render``.
"""
