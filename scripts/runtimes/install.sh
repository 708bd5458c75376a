#!/usr/bin/env bash
# Installs what the end-to-end tests need on a Debian machine, as root: a Docker engine and compose,
# a local Python base image (only where no registry is reachable), Podman, a real helm and Prometheus.
# Idempotent: what is already there is reused, and nothing that was running is stopped.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if ! command -v apt-get >/dev/null; then
    echo "install.sh is for Debian/Ubuntu; elsewhere install Docker, Podman and helm yourself." >&2
    exit 1
fi
echo ">> apt-get update"
apt-get update -qq
bash "$here/docker.sh"
bash "$here/base_image.sh"
bash "$here/podman.sh"
bash "$here/helm.sh"
bash "$here/prometheus.sh"
echo ">> runtimes ready"
