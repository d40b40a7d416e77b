#!/usr/bin/env bash
# `make demo`: the field report end to end, on this machine, with real dockerd processes.
#
# 1. A runner node after the reboot of the field report: its dind (a real dockerd whose iptables
#    has no nat table) dies on start, and its host root (demo/roots/centos8-field-report: CentOS 8,
#    iptable_nat listed only in /etc/modules) is mounted into the job read-only where the admin's
#    file (/etc/dind-preflight/config.json) says. `dind-preflight run` runs as
#    the job's before_script would: it diagnoses the node, shows what it would send to GitLab
#    (a dry run, unless DIND_PREFLIGHT_GITLAB_TOKEN and CI_API_V4_URL point at a real GitLab), and
#    exits 75 so that GitLab retries the job elsewhere.
# 2. The same node after the fix (demo/roots/centos8-fixed) with a healthy dind: the job passes.
# What is printed is what the CI log shows. Daemons are stopped by PID on exit, whatever happens.
# Each daemon runs in its own network namespace (tests/harness/dockerd.py): a Docker already running
# on this machine keeps its chains, its published ports and its docker0 (tests/demo checks it).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=.venv/bin/python
PREFLIGHT="$PWD/.venv/bin/dind-preflight"
STATE_DIR="$(mktemp -d /tmp/dind-preflight-demo.XXXXXX)"
BROKEN_ROOT="$PWD/demo/roots/centos8-field-report"
FIXED_ROOT="$PWD/demo/roots/centos8-fixed"

cleanup() {
    for daemon in healthy field-report; do
        "$PY" -m tests.harness.launch stop "$STATE_DIR/$daemon" >/dev/null 2>&1 || true
    done
    rm -rf "$STATE_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

section() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# What GitLab and the runner give a job (a dry run sends nothing to this URL).
export CI_SERVER_URL="${CI_SERVER_URL:-https://gitlab.example.com}"
export CI_API_V4_URL="${CI_API_V4_URL:-$CI_SERVER_URL/api/v4}"
export CI_RUNNER_ID="${CI_RUNNER_ID:-42}" CI_RUNNER_DESCRIPTION="${CI_RUNNER_DESCRIPTION:-k8s-runner-a}"
export CI_JOB_ID="${CI_JOB_ID:-1001}" CI_PROJECT_PATH="${CI_PROJECT_PATH:-acme/app}"
export CI_JOB_URL="${CI_JOB_URL:-$CI_SERVER_URL/$CI_PROJECT_PATH/-/jobs/$CI_JOB_ID}"
export DIND_PREFLIGHT_REPORT_PROJECT="${DIND_PREFLIGHT_REPORT_PROJECT:-infra/runner-incidents}"
export DIND_PREFLIGHT_ARTIFACTS_DIR="$STATE_DIR/reports"
unset KUBERNETES_SERVICE_HOST

export CI_JOB_TOKEN="${CI_JOB_TOKEN:-glcbt-64_demo-job-token}"  # GET /job names the job's runner

# The runner's admin configured job mode (docs/runner-wide.md, step 2b): the admin's file at its
# fixed path and the node's root mounted read-only at node_root, in the command's own mount
# namespace, as a job pod has them. This machine's /etc and /mnt are left alone.
with_admin() {  # ROOT COMMAND...
    local root="$1" ns
    shift
    ns="$(mktemp -d "$STATE_DIR/admin.XXXXXX")"
    mkdir "$ns/up" "$ns/work"
    printf '{"gitlab_url": "%s", "node_root": "/mnt/node-root"}\n' "$CI_SERVER_URL" >"$ns/config.json"
    # shellcheck disable=SC2016 # expanded by the inner shell
    unshare --mount --propagation private sh -c '
        set -e
        mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1/up,workdir=$1/work" /etc
        mkdir -p /etc/dind-preflight
        cp "$1/config.json" /etc/dind-preflight/config.json
        mount -t tmpfs tmpfs /mnt
        mkdir -p /mnt/node-root
        mount --bind "$2" /mnt/node-root
        mount -o remount,bind,ro /mnt/node-root
        shift 2
        exec "$@"' sh "$ns" "$root" "$@"
}

# Runs a command like a job's before_script would, showing it and its exit code.
job_step() {
    local code=0
    printf '$ %s\n' "$*"
    "$@" || code=$?
    printf '(exit code %s)\n' "$code"
    return 0
}

section "1. the field report: a node rebooted into a new kernel, dind dies on start"
eval "$("$PY" -m tests.harness.launch start field-report "$STATE_DIR/field-report")"
echo "dind (dockerd pid $DAEMON_PID) exited; the last lines of its log:"
tail -n 3 "$DAEMON_LOG" | sed 's/^/  | /'
export DOCKER_HOST="$DAEMON_HOST" DIND_PREFLIGHT_SERVICE_LOG="$DAEMON_LOG"
export DIND_PREFLIGHT_TIMEOUT=30

section "the node, as the helper pod sees it (the field report's dind printed \"(legacy)\")"
job_step "$PREFLIGHT" node-report --root "$BROKEN_ROOT" --backend legacy

section "the job's before_script: dind-preflight run"
printf '$ %s run\n' "$PREFLIGHT"
code=0
with_admin "$BROKEN_ROOT" "$PREFLIGHT" run >"$STATE_DIR/run.log" 2>&1 || code=$?
cat "$STATE_DIR/run.log"
printf '(exit code %s)\n' "$code"
printf '(the job log of run: %s lines)\n' "$(wc -l <"$STATE_DIR/run.log")"
echo "job reports written for GitLab (artifacts:reports):"
find "$DIND_PREFLIGHT_ARTIFACTS_DIR" -type f -printf '  %f\n' | sort

section "what a report would send to GitLab with a token (the dry run's file)"
cat "$DIND_PREFLIGHT_ARTIFACTS_DIR/gitlab-dry-run.txt"

section "2. after the fix: /etc/modules-load.d/iptable_nat.conf, reboot, healthy dind"
eval "$("$PY" -m tests.harness.launch start healthy "$STATE_DIR/healthy")"
export DOCKER_HOST="$DAEMON_HOST"
unset DIND_PREFLIGHT_SERVICE_LOG
job_step "$PREFLIGHT" node-report --root "$FIXED_ROOT"
printf '$ %s run\n' "$PREFLIGHT"
code=0
with_admin "$FIXED_ROOT" "$PREFLIGHT" run || code=$?
printf '(exit code %s)\n' "$code"
printf '$ docker version --format %s\n' "'{{.Server.Version}}'"
DOCKER_HOST="$DAEMON_HOST" docker version --format '{{.Server.Version}}' 2>/dev/null \
    || echo "(the docker CLI is not installed here)"
