"""``dind-preflight resolve``: undo what job mode did once a node is fixed (pure decision in
:mod:`.decide`, the adapters in :mod:`.apply`)."""
