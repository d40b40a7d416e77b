#!/usr/bin/env bash
# `make demo`: the field report on this machine, with real dockerd processes.
#
# Two local daemons stand in for two dind services:
#   - a healthy one;
#   - one whose iptables has no nat table, as on the CentOS 8 nodes of the field report after
#     their reboot (iptable_nat listed only in /etc/modules). That dockerd dies on start.
# For each, `dind-preflight probe` runs as it would before a job's script, and its output is
# what the CI log would show. Daemons are stopped by PID on exit, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=.venv/bin/python
PREFLIGHT=.venv/bin/dind-preflight
STATE_DIR="$(mktemp -d /tmp/dind-preflight-demo.XXXXXX)"

cleanup() {
    for daemon in healthy field-report; do
        "$PY" -m tests.harness.launch stop "$STATE_DIR/$daemon" || true
    done
    rm -rf "$STATE_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

section() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# Runs the probe like a job's before_script would, showing the command and its exit code.
probe() {
    local code=0
    printf '$ DOCKER_HOST=%s dind-preflight probe %s\n' "$DOCKER_HOST" "$*"
    "$PREFLIGHT" probe "$@" || code=$?
    printf '(exit code %s)\n' "$code"
}

section "starting a healthy dockerd"
eval "$("$PY" -m tests.harness.launch start healthy "$STATE_DIR/healthy")"
echo "dockerd pid $DAEMON_PID listening on $DAEMON_HOST"
export DOCKER_HOST="$DAEMON_HOST"
section "job on the healthy runner"
probe --timeout 10
probe --timeout 10 --json

section "starting a dockerd on a node without the iptables nat table (the field report)"
eval "$("$PY" -m tests.harness.launch start field-report "$STATE_DIR/field-report")"
echo "dockerd pid $DAEMON_PID exited; its log: $DAEMON_LOG"
export DOCKER_HOST="$DAEMON_HOST"
section "job on the broken runner (the docker CLI would say: Cannot connect to the Docker daemon at $DOCKER_HOST)"
probe --timeout 3 --daemon-log "$DAEMON_LOG"
