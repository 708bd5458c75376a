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


def test_missing_tools_are_named_with_how_to_install_them(doctor, tmp_path, monkeypatch):
    monkeypatch.setattr("mlsteps.doctor.local_helms", lambda: [])  # nor one from scripts/runtimes/helm.sh
    code, out = doctor("--level", "4", env={"PATH": str(tmp_path)})  # a PATH with no program on it
    assert code == 1
    for tool, fix in (("minikube", "minikube.sigs.k8s.io"), ("kubectl", "kubectl"), ("helm", "helm.sh")):
        assert f"FAIL  {tool}" in out and fix in out
    assert "check(s) failed" in out


def test_level_2_checks_docker_and_compose(doctor, tmp_path):
    _, out = doctor("--level", "2", env={"PATH": str(tmp_path)})
    assert "FAIL  docker " in out and "FAIL  docker compose" in out
    assert "docs.docker.com" in out


def test_a_helm_from_the_runtimes_script_is_found_with_how_to_put_it_on_path(doctor, tmp_path, monkeypatch):
    """scripts/runtimes/helm.sh puts helm in .tools/bin: doctor names it and the PATH line the docs give."""
    local = tmp_path / ".tools" / "bin" / "helm"
    local.parent.mkdir(parents=True)
    local.write_text("#!/bin/sh\necho v4.1.4+g05fa379\n")
    local.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    code, out = doctor("--level", "4", env={"PATH": str(empty)})
    assert code == 1
    assert f"FAIL  helm             {local} (v4.1.4+g05fa379) is not on PATH" in out
    assert f'export PATH="$PATH:{local.parent}"' in out
