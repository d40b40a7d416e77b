"""GitLab reporting: runner pause with a maintenance note, one issue per node and cause, job artifacts.

Modules, in the order a report calls them: :mod:`.reporter` (the orchestration), :mod:`.client`
(settings, pinned destination, retrying transport in one time budget, failures), :mod:`.issue_text`
(incident identity, issue text, safe Markdown), :mod:`.incident_issue` (election and issue
requests), :mod:`.runner_pause` (maintenance note, pause decision, runner requests) and
:mod:`.outcome` (what was done, or would be in a dry run).
"""
