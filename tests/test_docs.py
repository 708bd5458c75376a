"""The docs cannot rot: every shell command they show is checked, and level 1's are run for real.

Every ```bash block of README.md, docs/ and the level READMEs is read. Commands that need a cluster
(minikube, kubectl, helm against a release) cannot run here, so they are checked for naming files,
make targets, CLI commands and flags, Kubernetes objects, labels, compose services and chart values
that exist. Level 1's commands run as a learner types them, in a temporary copy of the repository.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys

import helm_python
import pytest
import yaml

from helm_commands import commands_in, releases, render_objects
from helpers import (
    LAUNCHER,
    REPO_ROOT,
    deep_merge,
    free_port,
    headings,
    http_json,
    load_launcher,
    need_compose,
    wait_for,
)
from images import python_image
from kube_harness import level3_objects, load_objects
from mlsteps.cli import build_parser
from mlsteps.config import ENV_DEFAULTS

DOCS = [
    REPO_ROOT / "README.md",
    *sorted((REPO_ROOT / "docs").glob("*.md")),
    *sorted((REPO_ROOT / "src").glob("*/README.md")),
]
BLOCK = re.compile(r"^```(bash|sh|shell)[^\n]*\n(.*?)^```[^\n]*\n(?:\s*```(\w*)\n(.*?)^```)?", re.S | re.M)
PROGRAMS = {
    "make",
    "curl",
    "python",
    "docker",
    "kubectl",
    "minikube",
    "helm",
    "ls",
    "cat",
    "rm",
    "cd",
    "bash",
    ".venv/bin/python",
}
LEVEL1_DOCS = {
    REPO_ROOT / name
    for name in (
        "README.md",
        "docs/level-1-single-function.md",
        "docs/index.md",
        "docs/troubleshooting.md",
        "docs/monitoring.md",
        "src/single_function/README.md",
    )
}
LAUNCHER_PATH = str(LAUNCHER.relative_to(REPO_ROOT))  # as the docs write it
OTHER_LEVELS = {"docker", "kubectl", "minikube", "helm"}  # programs of levels 2 to 4


def commands(docs=DOCS):
    """(doc, command, the text block shown right after it) for every line of every shell block."""
    found = []
    for doc in docs:
        for match in BLOCK.finditer(doc.read_text()):
            shown = match.group(4) or ""
            for line in match.group(2).replace("\\\n", " ").splitlines():
                line = line.strip()
                if line and not line.startswith("#"):
                    found.append((doc, line, shown))
    return found


ALL = commands()


def ids(items):
    return [f"{doc.relative_to(REPO_ROOT)}: {line[:60]}" for doc, line, _ in items]


def program_of(line: str) -> str:
    substituted = re.match(r"^\w+=\$\((\S+)", line)
    if substituted:  # URL=$(minikube service ...): the program runs inside $( )
        return substituted.group(1)
    return [w for w in shlex.split(line.split("|")[0]) if not re.match(r"^\w+=", w)][0]


def test_docs_show_commands():
    assert len(ALL) > 50 and {doc.name for doc, _, _ in ALL} >= {"level-1-single-function.md", "level-4-helm.md"}


@pytest.mark.parametrize("doc, line, shown", ALL, ids=ids(ALL))
def test_command_uses_a_known_program(doc, line, shown):
    assert program_of(line) in PROGRAMS, f"unexpected program in {line!r}"


def test_make_targets_exist():
    targets = set(re.findall(r"^([a-z0-9-]+):", (REPO_ROOT / "Makefile").read_text(), re.M))
    used = {m for _, line, _ in ALL for m in re.findall(r"\bmake ([a-z0-9-]+)", line)}
    assert used and used <= targets, used - targets


def test_paths_in_commands_exist():
    paths = {
        m.rstrip(".,")
        for _, line, _ in ALL
        for m in re.findall(r"(?<![\w/.-])((?:src|docs|tests|scripts|benchmarks)/[\w./-]*)", line)
    }
    missing = sorted(p for p in paths if not (REPO_ROOT / p).exists())
    assert paths and not missing, missing


def github_anchor(heading: str) -> str:
    """The #fragment GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def test_relative_links_resolve():
    """Every link to another file of the repository finds it, and its #section when it names one."""
    broken = []
    for doc in DOCS:
        for target, anchor in re.findall(r"\]\(([^)#\s]+)(?:#([^)]*))?\)", doc.read_text()):
            if re.match(r"^[a-z]+://", target):
                continue
            path = doc.parent / target
            if not path.exists():
                broken.append(f"{doc.relative_to(REPO_ROOT)} -> {target}")
            elif anchor and anchor not in {github_anchor(h) for h in re.findall(r"^#+ (.+)$", path.read_text(), re.M)}:
                broken.append(f"{doc.relative_to(REPO_ROOT)} -> {target}#{anchor}")
    assert not broken, broken


def test_mlsteps_commands_parse():
    used = [shlex.split(line)[shlex.split(line).index("mlsteps") + 1 :] for _, line, _ in ALL if "-m mlsteps" in line]
    used += [
        ["doctor", "--level", level] for _, line, _ in ALL for level in re.findall(r"make doctor LEVEL=(\S+)", line)
    ]
    assert used
    for argv in used:
        build_parser().parse_args(argv)  # exits (fails the test) if wrong


def test_launcher_flags_exist():
    launcher = load_launcher()
    used = [line for _, line, _ in ALL if LAUNCHER_PATH in line]
    assert used
    for line in used:
        words = shlex.split(line)
        try:
            launcher.parse_args(words[words.index(LAUNCHER_PATH) + 1 :])
        except SystemExit as stop:  # --help prints and exits 0; a wrong flag exits 2
            assert stop.code == 0, line


def compose_services() -> set[str]:
    return set(yaml.safe_load((REPO_ROOT / "src/docker_compose/compose.yaml").read_text())["services"])


def test_compose_services_exist():
    used = {
        m for _, line, _ in ALL for m in re.findall(r"docker compose (?:logs -f|exec|restart|stop|kill) (\S+)", line)
    }
    assert used and used <= compose_services(), used - compose_services()


def kubernetes_objects() -> list[dict]:
    """Level 3's objects plus the chart's (with its `helm test` pods) for release `mlsteps` and every
    release the docs install (`wine`, ...), with the values the docs give each, as a learner would create them."""
    objects = level3_objects()
    installed = releases([command for doc in DOCS for command in commands_in(doc)])
    for (release, namespace), values in {("mlsteps", "default"): {}, **installed}.items():
        objects += render_objects(values, release, namespace)
    by_hand = {m for _, line, _ in ALL for m in re.findall(r"kubectl create -f (\S+)", line)}  # outside -k
    return objects + load_objects(REPO_ROOT / path for path in sorted(by_hand))


def test_kubernetes_names_and_labels_exist():
    objects = kubernetes_objects()
    kinds = {
        "cronjob": "CronJob",
        "job": "Job",
        "deployment": "Deployment",
        "service": "Service",
        "pvc": "PersistentVolumeClaim",
        "pod": "Pod",
    }
    names = {(o["kind"], o["metadata"]["name"]) for o in objects}
    created = {m for _, line, _ in ALL for m in re.findall(r"kubectl create job --from=cronjob/\S+ (\S+)", line)}
    labels = {f"{k}={v}" for o in objects for k, v in o["metadata"].get("labels", {}).items()}
    wrong = []
    for _, line, _ in ALL:
        for kind, name in re.findall(r"\b(cronjob|job|deployment|service)/([a-z0-9-]+)", line) + re.findall(
            r"kubectl (?:get|delete|describe) (cronjob|job|pvc|pod) ([a-z0-9][a-z0-9-]*)", line
        ):
            if (kinds[kind], name) not in names and name not in created:
                wrong.append(f"{kind}/{name}")
        for name in re.findall(r"minikube service (\S+)", line):
            if ("Service", name) not in names:
                wrong.append(f"service {name}")
        for selector in re.findall(r"-l (\S+)", line):
            wrong += [pair for pair in selector.split(",") if pair not in labels]
    assert not wrong, wrong


HELM_COMMANDS = [(doc, line, shown) for doc, line, shown in ALL if re.match(r"helm (install|upgrade|template)", line)]


@pytest.mark.parametrize("doc, line, shown", HELM_COMMANDS, ids=ids(HELM_COMMANDS))
def test_helm_values_in_docs_render_or_fail_as_shown(doc, line, shown):
    """Each --set / -f a doc shows renders with the real chart, or fails where the doc shows an Error."""
    words = shlex.split(line.split("|")[0])
    values: dict = {}
    for flag, value in zip(words, words[1:], strict=False):
        if flag == "-f":
            values = deep_merge(values, helm_python.values_from_yaml((REPO_ROOT / value).read_text()))
        elif flag == "--set":
            values = deep_merge(values, helm_python.parse_set_string(value))
    expect_error = shown.lstrip().startswith("Error:")
    try:
        with helm_python.Chart.load(REPO_ROOT / "src/helm_chart") as chart:
            chart.render(values, name="mlsteps", namespace="default")
        failed = None
    except helm_python.HelmError as error:
        failed = error
    assert (failed is not None) == expect_error, f"{line}: {failed}"


def test_every_setting_is_documented():
    concepts = (REPO_ROOT / "docs/concepts.md").read_text()
    assert [name for name in ENV_DEFAULTS if f"`{name}`" not in concepts] == []


@pytest.mark.parametrize("page", sorted((REPO_ROOT / "docs").glob("level-*.md")), ids=lambda p: p.name)
def test_level_pages_have_the_same_parts_in_order(page):
    found = headings(page)
    wanted = [
        "Purpose",
        "Prerequisites",
        "Quick start",
        "Verify",
        "What changed",
        "How it works",
        "Clean up",
        "Troubleshooting",
        "Last validated",
    ]
    positions = [next((i for i, h in enumerate(found) if h.startswith(w)), None) for w in wanted]
    assert None not in positions, dict(zip(wanted, positions, strict=True))
    assert positions == sorted(positions), found


@pytest.mark.parametrize("readme", sorted((REPO_ROOT / "src").glob("*/README.md")), ids=lambda p: p.parent.name)
def test_level_readmes_have_the_fixed_parts_in_order(readme):
    """Each level folder's short README, in the order of kubernetes/examples' guidelines."""
    assert headings(readme) == ["Purpose", "Prerequisites", "Quick start", "Verify", "Clean up", "Last validated"]


# -- level 1, for real ---------------------------------------------------------------------------


def is_long_running(line: str) -> bool:
    """Commands that start level 1 itself (the test starts it once) or the whole test suite."""
    return line in ("make run", "make test") or (LAUNCHER_PATH in line and "--help" not in line)


@pytest.fixture
def repo_copy(tmp_path):
    """A copy of the repository's files, as a fresh clone would have them."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, text=True)
    names = [n for n in listed.stdout.split("\0") if n] if listed.returncode == 0 else []
    assert names, "git ls-files found nothing to copy"
    for name in names:
        target = tmp_path / "repo" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if (REPO_ROOT / name).is_file():
            shutil.copy2(REPO_ROOT / name, target)  # keeps mtimes: make sees the lock as installed
    for installed in (".venv", ".tools"):  # what `make run` installed, so the copy does not install again
        if (REPO_ROOT / installed).is_dir():
            (tmp_path / "repo" / installed).symlink_to(REPO_ROOT / installed)
    return tmp_path / "repo"


@pytest.mark.slow
def test_level1_commands_run_as_written(repo_copy, settings):
    port = free_port()
    env = {**os.environ, "MLSTEPS_PORT": str(port)}
    env.pop("MLSTEPS_DATA_DIR")  # the docs' commands use the default folder, mlsteps-data

    def start(line: str) -> subprocess.Popen:
        line = line.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        # make must not reinstall into the shared .venv from the copy: it would point the editable
        # install at this temporary folder.
        line = re.sub(r"^make ", "make -o .venv/.synced-run -o .venv/.synced-dev ", line)
        return subprocess.Popen(
            ["bash", "-euo", "pipefail", "-c", line],
            cwd=repo_copy,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def finish(line: str, process: subprocess.Popen) -> str:
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, f"{line}\n{stdout}{stderr}"
        return stdout

    def run(line: str) -> str:
        return finish(line, start(line))

    # Each command once; a level-1 page's example for another level (monitoring.md's) is checked statically only.
    level1 = list(
        dict.fromkeys(line for doc, line, _ in ALL if doc in LEVEL1_DOCS and program_of(line) not in OTHER_LEVELS)
    )
    cleanup = [line for line in level1 if line.startswith("rm ")]
    during = [line for line in level1 if line not in cleanup and ("127.0.0.1" in line or "mlsteps-data" in line)]
    # The rest need no running level 1, so they run side by side; the doctor wants its port free, so
    # level 1 starts once the doctor is done, while the others may still run.
    alongside = {line: start(line) for line in level1 if not is_long_running(line) and line not in cleanup + during}
    doctor = [line for line in alongside if "doctor" in line]
    assert doctor and during and cleanup
    for line in doctor:
        finish(line, alongside.pop(line))

    # `make run` runs exactly this, inside the locked virtual environment this test already runs in.
    launcher = subprocess.Popen(
        [sys.executable, LAUNCHER_PATH], cwd=repo_copy, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        for line, process in alongside.items():
            finish(line, process)
        wait_for("level 1 to become ready", lambda: http_json(f"http://127.0.0.1:{port}/readyz")[0] == 200, 60)
        for line in during:
            stdout = run(line)
            if "/predict" in line:
                assert '"predictions":["setosa"]' in stdout, stdout
            if "latest.json" in line:
                assert '"version"' in stdout
    finally:
        launcher.send_signal(signal.SIGTERM)
        assert launcher.wait(timeout=15) == 0
    for line in cleanup:
        run(line)
    assert not (repo_copy / "mlsteps-data").exists()


# -- level 2, for real (a Docker engine) ----------------------------------------------------------

LEVEL2_DOCS = [REPO_ROOT / "docs/level-2-docker-compose.md", REPO_ROOT / "src/docker_compose/README.md"]


def level2_runnable(line: str) -> bool:
    """The plain `up` (run detached below) and the rest; troubleshooting variants and installs are not."""
    variant_up = "compose up" in line and not line.startswith("docker compose up --build")
    return not variant_up and "--force-recreate" not in line and not line.startswith("bash scripts/runtimes/")


@pytest.mark.e2e
def test_level2_commands_run_as_written(repo_copy):
    compose = need_compose()
    port = free_port()
    env = {**os.environ, "COMPOSE_PROJECT_NAME": f"mlsteps-docs-{port}", "MLSTEPS_PORT": str(port)}
    if python_image():
        env["PYTHON_IMAGE"] = python_image()  # no registry reachable: the locally built base
    cwd = repo_copy

    def run(line: str) -> subprocess.CompletedProcess:
        line = line.replace("127.0.0.1:8000", f"127.0.0.1:{port}").replace("logs -f", "logs")  # -f never ends
        if line == "docker compose up --build":  # attached, it would never return: the same, detached
            line += " --detach"
        line = line.replace("docker compose", " ".join(compose))
        if " exec " in line:  # a learner types it in a terminal; `script` gives it one here
            line = f"script -qefc {shlex.quote(line)} /dev/null"
        return subprocess.run(
            ["bash", "-euo", "pipefail", "-c", line], cwd=cwd, env=env, capture_output=True, text=True, timeout=900
        )

    lines = [line for _, line, _ in commands(LEVEL2_DOCS) if level2_runnable(line)]
    assert any("--detach" in line for line in lines) and any("/predict" in line for line in lines)
    ready = False
    try:
        for line in lines:
            if line.startswith("cd "):
                cwd = cwd / line[3:]
                continue
            if line.startswith("curl") and not ready:  # the doc: "the API answers about 15 seconds after up"
                ready = wait_for(
                    "serve to become ready",
                    lambda: http_json(f"http://127.0.0.1:{port}/readyz")[0] == 200,
                    120,
                    every=1,
                )
            result = run(line)
            assert result.returncode == 0, f"{line}\n{result.stdout}{result.stderr}"
            ready = ready and " down" not in line
            if "/predict" in line:
                assert '"predictions":["setosa"]' in result.stdout, result.stdout
            if "ls -ln /data/models" in line:
                assert "latest.json" in result.stdout and " 10001 10001 " in result.stdout
    finally:
        subprocess.run(
            [*compose, "down", "-v"], cwd=repo_copy / "src/docker_compose", env=env, capture_output=True, timeout=300
        )


def test_level_4_cleanup_removes_every_release_the_page_makes():
    """Each release the page installs is uninstalled in Clean up, its kept claim and test pod deleted too."""
    text = (REPO_ROOT / "docs" / "level-4-helm.md").read_text()
    cleanup = text.split("## Clean up", 1)[1].split("\n## ", 1)[0]
    releases = set(re.findall(r"helm (?:upgrade --install|install) (\S+) src/helm_chart", text))
    assert releases >= {"mlsteps", "wine"}
    for release in releases:
        prefix = "" if release == "mlsteps" else f"{release}-"  # the chart's fullname: release-chart
        for line in (
            f"helm uninstall {release}",
            f"kubectl delete pvc {prefix}mlsteps-data",
            f"kubectl delete pod {prefix}mlsteps-test-predict",
        ):
            assert line in cleanup, line


# -- the real-table walkthrough of your-own-model.md, for real (level 1) ---------------------------

OWN_MODEL = REPO_ROOT / "docs/your-own-model.md"


def walkthrough() -> list[str]:
    """The commands of your-own-model.md's section on a real table, in order."""
    section = OWN_MODEL.read_text().split("## A real table", 1)[1].split("\n## ", 1)[0]
    return [line.strip() for block in BLOCK.finditer(section) for line in block.group(2).splitlines() if line.strip()]


@pytest.mark.slow
def test_the_real_table_walkthrough_runs_as_written(repo_copy, settings):
    """A mixed table (text, missing values) trained with the default pipeline by real processes, and
    answered with text and null in the request, exactly as the page shows."""
    lines = walkthrough()
    start = next(line for line in lines if line.endswith("make run"))
    curls = [line for line in lines if line.startswith("curl")]
    assert any('"sex": null' in line for line in curls)
    port = free_port()
    env = {**os.environ, "MLSTEPS_PORT": str(port)}
    env.pop("MLSTEPS_DATA_DIR")
    env.update(dict(re.findall(r"(MLSTEPS_\w+)=(\S+)", start)))  # the settings the page puts before make run
    launcher = subprocess.Popen(
        [sys.executable, LAUNCHER_PATH], cwd=repo_copy, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for("level 1 to become ready", lambda: http_json(f"http://127.0.0.1:{port}/readyz")[0] == 200, 60)
        answers = [
            subprocess.run(
                ["bash", "-euo", "pipefail", "-c", line.replace("127.0.0.1:8000", f"127.0.0.1:{port}")],
                cwd=repo_copy,
                capture_output=True,
                text=True,
                timeout=30,
            ).stdout
            for line in curls
        ]
    finally:
        launcher.send_signal(signal.SIGTERM)
        assert launcher.wait(timeout=15) == 0
    model, prediction = answers
    assert '"name":"island","type":"text"' in model and '"sex"' in model
    assert prediction.startswith(
        '{"model_version":1,"predictions":["Gentoo"],"classes":["Adelie","Chinstrap","Gentoo"]'
    )


# -- "I already have a model" of your-own-model.md, for real (level 1) -----------------------------


def import_walkthrough() -> list[str]:
    """The level-1 commands of the section (its level-2 to -4 subsections are checked like the others)."""
    section = OWN_MODEL.read_text().split("## I already have a model", 1)[1].split("\n### ", 1)[0]
    return [line.strip() for block in BLOCK.finditer(section) for line in block.group(2).splitlines() if line.strip()]


@pytest.mark.slow
def test_i_already_have_a_model_runs_as_written(repo_copy, settings):
    """A joblib file made elsewhere, imported by the real CLI, then answered by serve alone, as the page shows."""
    lines = import_walkthrough()
    serve = next(line for line in lines if line.endswith("-m mlsteps serve"))
    before, curls = lines[: lines.index(serve)], [line for line in lines if line.startswith("curl")]
    assert any("import-model" in line for line in before) and curls
    port = free_port()
    env = {**os.environ, "MLSTEPS_PORT": str(port)}
    env.pop("MLSTEPS_DATA_DIR")  # the default folder, mlsteps-data, as the page uses it

    def run(line: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", "-euo", "pipefail", "-c", line.replace("127.0.0.1:8000", f"127.0.0.1:{port}")],
            cwd=repo_copy,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    for line in before:
        result = run(line)
        assert result.returncode == 0, f"{line}\n{result.stdout}{result.stderr}"
    assert "imported penguins.joblib (joblib, sha256 " in result.stderr and "promoted" in result.stderr
    server = subprocess.Popen(["bash", "-c", f"exec {serve}"], cwd=repo_copy, env=env, stderr=subprocess.DEVNULL)
    try:
        wait_for("serve to become ready", lambda: http_json(f"http://127.0.0.1:{port}/readyz")[0] == 200, 60)
        answer = run(curls[0]).stdout
        status, model = http_json(f"http://127.0.0.1:{port}/model")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=15)
    assert answer.startswith('{"model_version":1,"predictions":["Gentoo"]'), answer
    assert status == 200 and model["imported"]["file"] == "penguins.joblib" and model["pipeline"] == "imported"
