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
    # a cluster that cannot be started, nor a context set, without its program: each says install it
    assert "minikube start" not in out and "use-context" not in out
    assert fix_of(out, "minikube status") == "install minikube: https://minikube.sigs.k8s.io/docs/start/"
    assert fix_of(out, "kubectl context").startswith("install kubectl")


def fix_of(out: str, check: str) -> str:
    """The fix printed under a failed check."""
    lines = out.splitlines()
    failed = next(i for i, line in enumerate(lines) if line.strip().startswith(f"FAIL  {check} "))
    return lines[failed + 1].strip().removeprefix("fix: ")


def fake_programs(folder, **answers: dict[str, tuple[int, str]]) -> str:
    """Programs on a PATH of their own that answer given arguments with (exit code, output line), else fail:
    a Docker without a registry, a Compose of one version or the other, where the tests cannot choose the real one."""
    folder.mkdir()
    for program, replies in answers.items():
        cases = "".join(f"  '{args}') echo '{line}'; exit {code};;\n" for args, (code, line) in replies.items())
        (folder / program).write_text(f'#!/bin/sh\ncase "$*" in\n{cases}  *) echo "unknown: $*" >&2; exit 1;;\nesac\n')
        (folder / program).chmod(0o755)
    return str(folder)


DOCKER = {"--version": (0, "Docker version 28.2.2"), "info --format {{.ServerVersion}}": (0, "28.2.2")}
NO_REGISTRY = {"manifest inspect python:3.12-slim": (1, "error pinging v2 registry: dial tcp: no such host")}


@pytest.mark.parametrize(
    "compose, typed",
    [
        ({"docker": {**DOCKER, "compose version": (0, "Docker Compose version v2.40.0")}}, "type `docker compose`"),
        (
            {"docker": DOCKER, "docker-compose": {"version": (0, "docker-compose version 1.29.2")}},
            "type `docker-compose` wherever the docs say `docker compose`",
        ),
    ],
    ids=["v2 plugin", "v1"],
)
def test_compose_v2_or_v1_is_named_with_what_to_type(doctor, tmp_path, compose, typed):
    _, out = doctor("--level", "2", env={"PATH": fake_programs(tmp_path / "bin", **compose)})
    assert "ok    docker compose" in out and typed in out


def test_a_base_image_neither_here_nor_pullable_fails_with_the_offline_recipe(doctor, tmp_path, monkeypatch):
    """The Dockerfile's own base (its ARG), not here and no registry: level 2's build would fail at line 1."""
    monkeypatch.delenv("PYTHON_IMAGE", raising=False)
    code, out = doctor("--level", "2", env={"PATH": fake_programs(tmp_path / "bin", docker={**DOCKER, **NO_REGISTRY})})
    assert code == 1 and "all good" not in out
    assert "FAIL  base image       python:3.12-slim is not here and cannot be pulled (no such host)" in out
    assert "bash scripts/runtimes/base_image.sh" in fix_of(out, "base image")


@pytest.mark.parametrize(
    "docker, verdict",
    [
        ({"image inspect python:3.12-slim": (0, "[]")}, "ok    base image       python:3.12-slim is here"),
        ({"manifest inspect python:3.12-slim": (0, "{}")}, "ok    base image       python:3.12-slim can be pulled"),
        (
            {**NO_REGISTRY, "image inspect mlsteps-python:local": (0, "[]")},
            "fix: use the local one: PYTHON_IMAGE=mlsteps-python:local docker compose up --build",
        ),
    ],
    ids=["here", "pullable", "a local one is here"],
)
def test_the_base_image_check_says_what_it_found(doctor, tmp_path, monkeypatch, docker, verdict):
    monkeypatch.delenv("PYTHON_IMAGE", raising=False)
    _, out = doctor("--level", "2", env={"PATH": fake_programs(tmp_path / "bin", docker={**DOCKER, **docker})})
    assert verdict in out


def test_the_base_image_is_the_one_the_build_will_use(doctor, tmp_path):
    """compose passes PYTHON_IMAGE to the build: doctor checks that one, not the Dockerfile's default."""
    docker = {**DOCKER, "image inspect mlsteps-python:local": (0, "[]")}
    bin_path = fake_programs(tmp_path / "bin", docker=docker)
    _, out = doctor("--level", "2", env={"PATH": bin_path, "PYTHON_IMAGE": "mlsteps-python:local"})
    assert "ok    base image       mlsteps-python:local is here" in out


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
