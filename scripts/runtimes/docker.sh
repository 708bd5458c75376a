#!/usr/bin/env bash
# A Docker engine and compose for the level-2 tests, on Debian as root.
# Installs docker.io + docker-compose from Debian only when missing, starts dockerd only when
# `docker info` does not answer, then waits for it. An engine that already answers is reused and
# never stopped: the dockerd started here keeps running for the other tests (its pid is printed).
set -euo pipefail

log=${DOCKERD_LOG:-/tmp/mlsteps-dockerd.log}

missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
# Either compose works: the v2 plugin (`docker compose`) a learner has, or Debian's v1.29.
if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null; then
    missing+=(docker-compose)
fi
if ((${#missing[@]})); then
    echo ">> apt-get install ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if docker info >/dev/null 2>&1; then
    echo ">> Docker engine already answers: reusing it"
    exit 0
fi

echo ">> Starting dockerd in the background (log: $log)"
# setsid: the engine outlives this script and the shell that ran it.
setsid dockerd >"$log" 2>&1 </dev/null &
pid=$!
for _ in $(seq 1 60); do
    if docker info >/dev/null 2>&1; then
        echo ">> dockerd is ready (pid $pid)"
        exit 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "dockerd exited during start-up; last lines of $log:" >&2
        tail -n 20 "$log" >&2
        exit 1
    fi
    sleep 1
done
echo "dockerd did not answer within 60 s; see $log" >&2
exit 1
