"""Node analysis: will this node run dind now, and still after its next reboot?

Entry points: :func:`preflight.node.api.analyze_host` (a host root),
:func:`preflight.node.api.analyze_loaded_only` (only the job's /proc),
:func:`preflight.node.render.render_text` (the human report); the JSON is
``preflight.jsonable.to_json(report)``.
"""
