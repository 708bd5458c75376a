#!/usr/bin/env bash
# A local Python base image, `mlsteps-python:local`, for machines that cannot pull the Dockerfile's
# default (python:3.12-slim), e.g. CI without a registry. On a learner's laptop the pull works and
# this script does nothing. Built with debootstrap from the machine's own apt mirror (read at run
# time), carrying the host CA bundle so pip works behind a TLS-intercepting proxy.
# Idempotent: an existing image is reused. tests/images.py passes it as --build-arg PYTHON_IMAGE.
set -euo pipefail

default_image=${PYTHON_IMAGE:-python:3.12-slim}
local_image=mlsteps-python:local
suite=${DEBIAN_SUITE:-bookworm}

if docker image inspect "$default_image" >/dev/null 2>&1; then
    echo ">> $default_image is already here: no local base image needed"
    exit 0
fi
if docker image inspect "$local_image" >/dev/null 2>&1; then
    echo ">> $local_image already exists: reusing it"
elif timeout 60 docker pull -q "$default_image" >/dev/null 2>&1; then
    echo ">> pulled $default_image: no local base image needed"
    exit 0
else
    echo ">> $default_image cannot be pulled: building $local_image with debootstrap (about a minute)"
    command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    mirror=""
    if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
        mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
    fi
    if [[ -z "$mirror" && -f /etc/apt/sources.list ]]; then
        mirror=$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list)
    fi
    if [[ -z "$mirror" ]]; then
        echo "No apt mirror found in /etc/apt/sources.list(.d); cannot build $local_image." >&2
        exit 1
    fi
    rootfs=$(mktemp -d /tmp/mlsteps-rootfs.XXXXXX)
    trap 'rm -rf "$rootfs"' EXIT
    debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
        "$suite" "$rootfs" "$mirror" >/tmp/mlsteps-debootstrap.log 2>&1 || {
        echo "debootstrap failed; see /tmp/mlsteps-debootstrap.log" >&2
        exit 1
    }
    # The host's bundle, so that pip inside the image trusts the same proxy the host does.
    cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
    # Keep the image small: apt's package cache and lists are not needed at run time.
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    # An imported image has no environment: without PATH, `podman kube play` cannot find python3.
    tar -C "$rootfs" -c . | docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
        --change 'CMD ["python3"]' \
        - "$local_image" >/dev/null
    echo ">> built $local_image"
fi

# Podman keeps its own image store; give it the same base unless it already has it.
if command -v podman >/dev/null && ! podman image exists "localhost/$local_image" 2>/dev/null \
    && ! podman image exists "$local_image" 2>/dev/null; then
    if docker save "$local_image" | podman load >/dev/null 2>&1; then
        echo ">> loaded $local_image into podman"
    else
        echo ">> could not load $local_image into podman (podman.sh configures it; run this again after)"
    fi
fi
