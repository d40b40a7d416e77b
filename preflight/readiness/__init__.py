"""Can this node run dind now, and after its next reboot? The verdict and its Kubernetes form.

Shared by the node agent (which publishes it), ``node-report --npd`` (which prints it), the audit
and the job (which read it back from the node's conditions).
"""
