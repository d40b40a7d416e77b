"""Actions against a broken node or runner: what to do (pure) and doing it (adapters)."""
