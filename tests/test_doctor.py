"""`mlsteps doctor`: one line per check, a concrete fix under each failure, exit 1 when one failed."""

import os
import socket
import subprocess
import sys

from helpers import free_port


def doctor(*args, env=None):
    return subprocess.run([sys.executable, "-m", "mlsteps", "doctor", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120)


def test_level_1_passes_where_the_tests_run(settings):
    result = doctor("--level", "1", env={"MLSTEPS_PORT": str(free_port())})
    assert result.returncode == 0, result.stdout
    for name in ("python", "dependencies", "port", "data dir"):
        assert f"ok    {name}" in result.stdout
    assert "all good" in result.stdout


def test_a_port_in_use_fails_with_a_fix(settings):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = doctor(env={"MLSTEPS_PORT": str(taken.getsockname()[1])})
    assert result.returncode == 1
    assert "FAIL  port" in result.stdout and "fix: stop what uses it" in result.stdout


def test_missing_tools_are_named_with_how_to_install_them(settings, tmp_path):
    result = doctor("--level", "4", env={"PATH": str(tmp_path)})  # a PATH with no program on it
    assert result.returncode == 1
    for tool, fix in (("minikube", "minikube.sigs.k8s.io"), ("kubectl", "kubectl"), ("helm", "helm.sh")):
        assert f"FAIL  {tool}" in result.stdout and fix in result.stdout
    assert "check(s) failed" in result.stdout


def test_level_2_checks_docker_and_compose(settings, tmp_path):
    result = doctor("--level", "2", env={"PATH": str(tmp_path)})
    assert "FAIL  docker " in result.stdout and "FAIL  docker compose" in result.stdout
    assert "docs.docker.com" in result.stdout
