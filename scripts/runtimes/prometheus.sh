#!/usr/bin/env bash
# A real Prometheus for the monitoring tests (tests/test_prometheus.py): Debian's `prometheus` package.
# Debian, as root. Installs only the server (no exporters), and keeps its packaged service from starting:
# the tests start their own on 127.0.0.1 and a free port. Idempotent: running it again changes nothing.
set -euo pipefail

if command -v prometheus >/dev/null; then
    echo ">> prometheus already installed: $(prometheus --version 2>&1 | head -1)"
    exit 0
fi
echo ">> apt-get install prometheus"
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    # invoke-rc.d reads this: 101 means "do not start services now" (the packaged one would listen on all addresses)
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
echo ">> $(prometheus --version 2>&1 | head -1)"
