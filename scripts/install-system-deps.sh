#!/usr/bin/env bash
# Install the Debian packages the tests and the demo need; skip what is already present.
set -euo pipefail

packages=(docker.io iptables nftables kmod systemd shellcheck busybox-static rsync openssl iproute2 procps util-linux git ca-certificates)
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || packages+=(python3-venv)

missing=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
# A tool may be present without its Debian package (e.g. a node from elsewhere): accept the binary.
if [ "${#missing[@]}" -gt 0 ]; then
    still=()
    for pkg in "${missing[@]}"; do
        case "$pkg" in
            docker.io) command -v dockerd >/dev/null 2>&1 || still+=("$pkg") ;;
            *) still+=("$pkg") ;;
        esac
    done
    missing=("${still[@]+"${still[@]}"}")
fi
if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-system-deps: need root to install: ${missing[*]}" >&2
    exit 1
fi
echo "install-system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
