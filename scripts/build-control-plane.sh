#!/usr/bin/env bash
# Build the test control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
# kubectl) from their Go modules, pinned by tests/cluster/tools/go.mod and go.sum, into a cache
# outside the work tree keyed by those pins; print the directory holding the binaries.
# The first build takes long (about 10 minutes on 2 cores: kubernetes is a large module); later
# runs find the binaries and return at once. Nothing built here is shipped.
#
#   scripts/build-control-plane.sh          build if needed, print the binaries' directory
#   DIND_PREFLIGHT_CACHE=DIR ...            cache root (default: $XDG_CACHE_HOME or ~/.cache,
#                                           then dind-preflight/control-plane)
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
tools="$here/tests/cluster/tools"
cache_root="${DIND_PREFLIGHT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dind-preflight}/control-plane"

version="$(awk '$1 == "k8s.io/kubernetes" { print $2 }' "$tools/go.mod")"
key="$(cat "$tools/go.mod" "$tools/go.sum" "$tools/etcd/main.go" | sha256sum | cut -c1-12)"
dir="$cache_root/$version-$key"
binaries=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl)

complete() {
    local name
    for name in "${binaries[@]}"; do
        [ -x "$dir/$name" ] || return 1
    done
}

if ! complete; then
    if ! command -v go >/dev/null 2>&1; then
        echo "build-control-plane: no Go toolchain on PATH (needed once to build $version)" >&2
        exit 1
    fi
    mkdir -p "$cache_root"
    staging="$(mktemp -d "$cache_root/.build.XXXXXX")"
    trap 'rm -rf "$staging"' EXIT
    echo "build-control-plane: building etcd and kubernetes $version into $dir (first run only; about 10 minutes on 2 cores)" >&2
    start=$SECONDS
    (cd "$tools" && GOFLAGS=-mod=readonly go build -ldflags="-s -w" -o "$staging/" tool ./etcd)
    rm -rf "$dir"
    mv "$staging" "$dir"
    trap - EXIT
    echo "build-control-plane: built in $((SECONDS - start)) s" >&2
fi
echo "$dir"
