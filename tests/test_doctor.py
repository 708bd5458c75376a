"""`mlsteps doctor`: one line per check, a concrete fix under each failure, exit 1 when one failed.

In process, through the CLI's `main`; test_docs.py runs `make doctor LEVEL=1` as a real command.
"""

import pytest

from helpers import free_port, port_in_use
from mlsteps.cli import main


@pytest.fixture
def doctor(settings, capsys, monkeypatch):
    """Run `mlsteps doctor ARGS` with these environment variables; (exit code, what it printed)."""

    def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        code = main(["doctor", *args])
        return code, capsys.readouterr().out

    return run


def test_level_1_passes_where_the_tests_run(doctor):
    code, out = doctor("--level", "1", env={"MLSTEPS_PORT": str(free_port())})
    assert code == 0, out
    for name in ("python", "dependencies", "port", "data dir"):
        assert f"ok    {name}" in out
    assert "all good" in out


def test_a_port_in_use_fails_with_a_fix(doctor):
    with port_in_use() as port:
        code, out = doctor(env={"MLSTEPS_PORT": str(port)})
    assert code == 1
    assert "FAIL  port" in out and "fix: stop what uses it" in out


def test_missing_tools_are_named_with_how_to_install_them(doctor, tmp_path):
    code, out = doctor("--level", "4", env={"PATH": str(tmp_path)})  # a PATH with no program on it
    assert code == 1
    for tool, fix in (("minikube", "minikube.sigs.k8s.io"), ("kubectl", "kubectl"), ("helm", "helm.sh")):
        assert f"FAIL  {tool}" in out and fix in out
    assert "check(s) failed" in out


def test_level_2_checks_docker_and_compose(doctor, tmp_path):
    _, out = doctor("--level", "2", env={"PATH": str(tmp_path)})
    assert "FAIL  docker " in out and "FAIL  docker compose" in out
    assert "docs.docker.com" in out
