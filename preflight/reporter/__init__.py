"""Fleet mode's reporter: one Deployment holds the GitLab token and converges GitLab to the nodes.

The flow reads like the job mode's, from the other front door: the cluster's node conditions
(:mod:`.cluster`) and GitLab's open incidents and runners (:mod:`.gitlab_view`) are read into plain
views; :mod:`.converge` (pure) plans the actions, using :mod:`.quarantine` (pure) for the runner
pause; :mod:`.apply` carries them out with the existing incident-issue and runner-pause code in
:mod:`preflight.gitlab`. :mod:`.lease` makes one replica the leader; :mod:`.server` serves
``/healthz``, ``/metrics`` and the job-report endpoint (:mod:`.job_report`).
"""
