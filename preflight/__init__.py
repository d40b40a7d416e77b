"""dind-preflight: make docker-in-docker failures on Kubernetes GitLab runners a solved problem.

The flow reads from the package layout: ``probe`` (is the daemon usable?) -> ``node`` (host
module analysis) and ``kube`` (service evidence, helper pod) -> ``diagnosis`` (pure decision) ->
``actions`` (pause runner, taint node) and ``gitlab`` (report) -> ``run`` wires it end to end.
"""

__version__ = "0.1.0"
