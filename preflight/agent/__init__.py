"""The node agent (``dind-preflight agent``): a DaemonSet pod per node that analyses its node and
publishes the result as NodeConditions, Events, a taint and Prometheus metrics.

``memory`` (what the agent remembers between checks: transitions, the healthy streak) and
``taint_policy`` are pure; ``publish`` talks to the API, ``metrics`` to Prometheus, ``loop`` ties
them to the clock and to signals.
"""
