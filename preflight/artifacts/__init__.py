"""Job artifacts: ``artifacts:reports:annotations`` JSON and ``artifacts:reports:junit`` XML.

Each writer is a pure function that builds the document plus a tiny write step, so the job page
and the pipeline's Tests tab show the diagnosis even when GitLab's API could not be reached.
"""
