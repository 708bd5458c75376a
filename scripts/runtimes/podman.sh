#!/usr/bin/env bash
# Podman for the level-3 and level-4 tests: Kubernetes objects run as real pods with `podman kube play`.
# Debian, as root. Installs podman + catatonit only when missing, and writes
# /etc/containers/containers.conf only when there is none (an existing one is never overwritten).
# Idempotent: running it again changes nothing.
set -euo pipefail

conf=/etc/containers/containers.conf

if ! command -v podman >/dev/null || ! command -v catatonit >/dev/null; then
    echo ">> apt-get install podman catatonit"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman catatonit >/dev/null
else
    echo ">> podman already installed: $(podman --version)"
fi

if [[ -e "$conf" ]]; then
    echo ">> $conf exists: leaving it as it is"
else
    echo ">> writing $conf"
    mkdir -p "$(dirname "$conf")"
    # Podman's default ulimits cannot be applied on some hosts (CI containers); crun fails on a
    # hybrid cgroup layout where runc works. A laptop with a working default needs neither.
    cat >"$conf" <<'CONF'
[containers]
default_ulimits = ["nofile=10000:10000", "nproc=10000:10000"]

[engine]
runtime = "runc"
CONF
fi

if podman info >/dev/null 2>&1; then
    echo ">> podman is ready"
else
    echo "podman is installed but 'podman info' fails:" >&2
    podman info >&2 || true
    exit 1
fi
