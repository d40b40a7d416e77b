"""``dind-preflight run``: the whole preflight before a job's script (settings, flow, outcome)."""
