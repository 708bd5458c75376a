"""Level 2, Docker Compose: static checks of the Dockerfile and compose.yaml, then the real stack.

The static tests run in the fast suite. The `e2e` test builds the image with compose on a real Docker
engine, brings the three services up, predicts through 127.0.0.1, restarts and kills containers,
and removes everything it created (containers, network, volume) whatever happens.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import uuid

import pytest
import yaml

from helpers import (
    FIND_PENGUINS_CSV,
    LEARNERS_CODE,
    PENGUIN_ROW,
    REPO_ROOT,
    SAMPLE,
    VENV_BIN,
    check_learners_code_answers,
    compose_command,
    free_port,
    http_json,
    need,
    need_compose,
    wait_for,
)
from images import IMAGE_TAG, python_image
from mlsteps.config import ENV_DEFAULTS

LEVEL_DIR = REPO_ROOT / "src" / "docker_compose"
COMPOSE_FILE = LEVEL_DIR / "compose.yaml"
DOCKERFILE = LEVEL_DIR / "Dockerfile"
DOCS = [REPO_ROOT / "docs" / "level-2-docker-compose.md", LEVEL_DIR / "README.md"]
YOUR_OWN_MODEL = REPO_ROOT / "docs" / "your-own-model.md"
SERVICES = {"load-data", "train", "serve", "monitor"}
PROFILES = {"prometheus": "monitoring"}  # services started only with --profile: not steps, their own image
VOLUME = "mlsteps-data"
MOUNT = "/data"
# The shipped mixed table (src/my_ml/penguins_sample.csv): the features /model lists, in the CSV's order.
PENGUIN_FEATURES = [
    ("island", "text"),
    ("bill_length_mm", "number"),
    ("bill_depth_mm", "number"),
    ("flipper_length_mm", "number"),
    ("sex", "text"),
    ("body_mass_g", "number"),
]
# Variables compose.yaml may read from the shell: the steps' own settings, plus the build's base image.
KNOWN_VARIABLES = set(ENV_DEFAULTS) | {"PYTHON_IMAGE", "DEBIAN_IMAGE", "PROMETHEUS_PORT"}


def compose_file() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


# ---- static checks (fast suite) ----------------------------------------------------------------


def test_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint") or shutil.which("hadolint", path=str(VENV_BIN))
    need(hadolint is not None, "hadolint is not installed (it comes with the dev dependencies: make setup)")
    for dockerfile in (DOCKERFILE, DOCKERFILE.with_name("Dockerfile.store")):  # the steps' image, the store's
        result = subprocess.run([hadolint, str(dockerfile)], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_follows_the_contract():
    text = DOCKERFILE.read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.12-slim$", text, re.M)
    assert text.count("FROM ${PYTHON_IMAGE}") == 2, "deps and final stages both start from the build arg"
    # Dependencies from the lock first, the code after: a .py change must not reinstall numpy.
    assert text.index("COPY Pipfile Pipfile.lock") < text.index("COPY src/common")
    assert "--require-hashes" in text
    assert "USER 10001:10001" in text and "--uid 10001" in text
    assert "chown 10001:10001 /data" in text, "an empty named volume copies the mount point's owner"
    assert "PATH=/opt/venv/bin:$PATH" in text
    assert re.search(r'^CMD \["mlsteps", "serve"\]$', text, re.M), "exec-form CMD"


def test_dockerignore_sends_only_what_the_image_needs():
    patterns = [
        line.strip()
        for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert patterns[0] == "*", "everything is excluded first (data, models, .git, .venv, .tools)"
    allowed = {p[1:] for p in patterns if p.startswith("!")}
    copied = set()
    for dockerfile in (DOCKERFILE, DOCKERFILE.with_name("Dockerfile.store")):  # the steps' image, the store's
        for line in dockerfile.read_text().splitlines():
            if line.startswith("COPY ") and "--from=" not in line:
                copied.update(line.split()[1:-1])
    assert copied == allowed, f"COPY sources {sorted(copied)} and .dockerignore exceptions {sorted(allowed)} differ"
    for name in (".git", ".venv", ".tools", "mlsteps-data", "src/single_function"):
        assert name not in allowed


def test_compose_file_matches_the_docs_and_the_settings():
    compose = compose_file()
    assert "version" not in compose, "the compose spec has no version key"
    assert "name" not in compose, "docker-compose v1.29 rejects a top-level name"
    assert set(compose["services"]) == SERVICES | set(PROFILES)
    assert {name: compose["services"][name]["profiles"] for name in PROFILES} == {n: [p] for n, p in PROFILES.items()}
    assert set(compose["volumes"]) == {VOLUME, "prometheus-data"}
    steps = {name: service for name, service in compose["services"].items() if name in SERVICES}
    builds = [name for name, service in steps.items() if "build" in service]
    assert builds == ["load-data"], "one image, built once, by the service that starts first"
    for name, service in steps.items():
        assert service["image"] == IMAGE_TAG
        assert service["command"][:2] == ["mlsteps", name]
        assert f"{VOLUME}:{MOUNT}" in service["volumes"]  # read-write: serve writes its prediction log
        assert service["environment"]["MLSTEPS_DATA_DIR"] == MOUNT
        assert set(service["environment"]) <= set(ENV_DEFAULTS), f"{name}: unknown MLSTEPS_* names"
        assert service["restart"] == "unless-stopped"
        assert service["read_only"] is True and "/tmp" in service["tmpfs"]
        assert "healthcheck" in service
        assert service["mem_limit"] and service["cpus"], f"{name}: a container without limits can starve the host"
    for name in ("load-data", "train", "monitor"):
        assert "--every" in compose["services"][name]["command"]
    serve = compose["services"]["serve"]
    assert serve["ports"] == ["127.0.0.1:${MLSTEPS_PORT:-8000}:8000"]
    assert "/readyz" in " ".join(serve["healthcheck"]["test"])
    assert serve["depends_on"] == {"train": {"condition": "service_healthy"}}
    assert compose["services"]["train"]["depends_on"] == {"load-data": {"condition": "service_healthy"}}
    used = set(re.findall(r"\$\{(\w+)", COMPOSE_FILE.read_text()))
    assert used <= KNOWN_VARIABLES, f"compose.yaml reads unknown variables: {sorted(used - KNOWN_VARIABLES)}"


def test_docs_name_what_compose_yaml_defines():
    for doc in DOCS:
        text = doc.read_text()
        for phrase in ("docker compose up --build", "docker compose down -v", "/predict", "/model"):
            assert phrase in text, f"{doc.name} does not mention {phrase!r}"
        assert "$ " not in text, f"{doc.name}: commands must be copyable, without a prompt"
        assert "Last validated" in text
    guide = DOCS[0].read_text()
    for name in SERVICES | {VOLUME, MOUNT, IMAGE_TAG, "docker compose logs -f train"}:
        assert name in guide, f"{DOCS[0].name} does not mention {name!r}"
    for variable in set(re.findall(r"\bMLSTEPS_[A-Z_]+\b", guide)) - {"MLSTEPS_REQUIRE_E2E"}:
        assert variable in ENV_DEFAULTS, f"{DOCS[0].name} names an unknown setting {variable}"


def test_compose_accepts_the_file():
    compose = compose_command()
    need(compose is not None, "neither `docker compose` nor `docker-compose` is installed (scripts/runtimes/docker.sh)")
    result = subprocess.run(
        [*compose, "-f", str(COMPOSE_FILE), "config", "-q"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


# ---- the real stack (e2e) ----------------------------------------------------------------------


class Stack:
    """One compose project of compose.yaml, under a unique name and port so it never meets a learner's."""

    def __init__(self, compose: list[str], env: dict[str, str] | None = None):
        self.project = f"mlsteps-e2e-{uuid.uuid4().hex[:8]}"
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.argv = [*compose, "-p", self.project, "-f", str(COMPOSE_FILE)]
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MLSTEPS_")}
        # Short intervals, and a tolerance of 1 so that every new model is promoted and the version
        # served must advance (the promotion rule itself is tested with the package).
        self.env.update(
            MLSTEPS_PORT=str(self.port),
            MLSTEPS_LOAD_DATA_EVERY="3",
            MLSTEPS_TRAIN_EVERY="4",
            MLSTEPS_PROMOTION_TOLERANCE="1",
        )
        self.env.update(env or {})
        base = python_image()
        if base:
            self.env["PYTHON_IMAGE"] = base

    def run(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [*self.argv, *args], env=self.env, capture_output=True, text=True, timeout=timeout, cwd=LEVEL_DIR
        )
        if check and result.returncode != 0:
            pytest.fail(
                f"`compose {' '.join(args)}` failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
                f"\n--- logs ---\n{self.logs()}"
            )
        return result

    def container(self, service: str) -> str:
        return self.run("ps", "-q", service).stdout.strip()

    def inspect(self, service: str, template: str) -> str:
        return subprocess.run(
            ["docker", "inspect", "-f", template, self.container(service)], capture_output=True, text=True, timeout=30
        ).stdout.strip()

    def logs(self) -> str:
        result = subprocess.run(
            [*self.argv, "logs", "--no-color", "--tail", "40"], env=self.env, capture_output=True, text=True, timeout=60
        )
        return result.stdout[-6000:]

    def model_version(self) -> int:
        status, body = http_json(f"{self.base_url}/model")
        return body["version"] if status == 200 else 0

    def predict(self) -> dict | None:
        status, body = http_json(f"{self.base_url}/predict", SAMPLE)
        return body if status == 200 else None

    def wait_healthy(self) -> None:
        """Until serve's healthcheck (it calls /readyz) says healthy."""
        wait_for(
            "serve to become healthy (its healthcheck calls /readyz)",
            lambda: self.inspect("serve", "{{.State.Health.Status}}") == "healthy",
            timeout=120,
            every=0.5,
        )

    def down(self) -> None:
        self.run("down", "-v", "--remove-orphans", "--timeout", "10", timeout=180, check=False)


@pytest.mark.e2e
def test_compose_stack_end_to_end():
    stack = Stack(need_compose())
    try:
        # The learner's command, detached: build the one image, then start in dependency order.
        stack.run("up", "--build", "--detach", timeout=900)
        stack.wait_healthy()

        prediction = stack.predict()
        assert prediction and len(prediction["predictions"]) == 1 and prediction["model_version"] >= 1
        # The same model over the Open Inference Protocol (V2), and train's ONNX export beside each pickle.
        tensor = {"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": SAMPLE["instances"][0]}
        status, v2 = http_json(f"{stack.base_url}/v2/models/mlsteps/infer", {"inputs": [tensor]})
        assert status == 200 and v2["outputs"][0]["data"] == prediction["predictions"], v2
        onnx = stack.run("exec", "-T", "serve", "sh", "-c", "ls /data/models/v*/model.onnx").stdout.split()
        assert onnx, "no model.onnx on the volume"
        first = stack.model_version()
        assert first >= 1
        wait_for("train to publish a newer model", lambda: stack.model_version() > first, timeout=60)

        # One image, run as uid 10001, on a read-only root: the volume is the only place it writes.
        ids = {service: stack.container(service) for service in SERVICES}
        images = {stack.inspect(service, "{{.Config.Image}}") for service in SERVICES}
        assert images == {IMAGE_TAG}
        assert {stack.inspect(service, "{{.HostConfig.Memory}}") for service in SERVICES} == {str(512 * 2**20)}
        owner = stack.run("exec", "-T", "serve", "stat", "-c", "%u", "/data/models/latest.json").stdout.strip()
        assert owner == "10001"
        assert stack.run("exec", "-T", "serve", "touch", "/not-writable", check=False).returncode != 0
        # serve runs on uvicorn's production stack from the lock, as at level 1 (pid 1 is the tiny init,
        # so every process's memory map is read: only serve's Python loads these)
        loaded = stack.run("exec", "-T", "serve", "sh", "-c", "cat /proc/[0-9]*/maps 2>/dev/null; true").stdout
        assert "/uvloop/loop.cpython" in loaded and "/httptools/parser/parser.cpython" in loaded
        # Settings travel from the shell by their level-1 names; unset ones stay unset (package default).
        train_env = stack.run("exec", "-T", "train", "env").stdout.splitlines()
        assert "MLSTEPS_PROMOTION_TOLERANCE=1" in train_env
        assert not [line for line in train_env if line.startswith("MLSTEPS_KEEP_MODELS")]

        # A restarted train container carries on from the volume: versions keep increasing.
        before_restart = stack.model_version()
        stack.run("restart", "train", timeout=120)
        wait_for("train to publish after its restart", lambda: stack.model_version() > before_restart, timeout=60)

        # serve dies (SIGKILL from outside, like the OOM killer): the restart policy brings it back,
        # and the model on the volume is loaded again.
        version = stack.model_version()
        restarts = int(stack.inspect("serve", "{{.RestartCount}}"))
        os.kill(int(stack.inspect("serve", "{{.State.Pid}}")), signal.SIGKILL)
        wait_for(
            "Docker to restart serve",
            lambda: int(stack.inspect("serve", "{{.RestartCount}}")) > restarts,
            timeout=60,
            every=0.5,
        )
        resumed = wait_for("predictions after serve restarted", stack.predict, timeout=60)
        assert resumed["model_version"] >= version
        assert stack.container("serve") == ids["serve"], "the same container, restarted in place"
    except BaseException:
        print(f"--- last lines of the stack's logs ---\n{stack.logs()}")  # shown by pytest on failure
        raise
    finally:
        stack.down()
    leftovers = subprocess.run(
        ["docker", "volume", "ls", "-q", "--filter", f"name={stack.project}"],
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout.split()
    assert leftovers == [], f"`down -v` left volumes behind: {leftovers}"


@pytest.mark.e2e
def test_compose_runs_the_learners_own_code_and_serve_logs_its_answers_to_the_volume():
    """src/my_ml is in the image: the example loader and pipeline, named from the shell, answer at level 2;
    serve, as uid 10001 on a read-only root, writes its prediction log to the volume."""
    stack = Stack(need_compose(), env=LEARNERS_CODE)
    try:
        stack.run("up", "--build", "--detach", timeout=900)
        stack.wait_healthy()
        check_learners_code_answers(stack.base_url)
        wait_for(
            "serve's prediction log on the volume",
            lambda: stack.run("exec", "-T", "serve", "ls", "/data/predictions/requests", check=False).stdout.strip(),
            timeout=30,
        )
        shown = stack.run("exec", "-T", "serve", "mlsteps", "show").stdout
        assert "from python:my_ml.example:load_table" in shown and "LIVE" in shown
    except BaseException:
        print(f"--- last lines of the stack's logs ---\n{stack.logs()}")
        raise
    finally:
        stack.down()


@pytest.mark.e2e
def test_the_monitoring_profile_runs_prometheus_and_the_drift_alert_fires():
    """`--profile monitoring`: Prometheus from Debian's package (src/monitoring/Dockerfile) scrapes serve; drift
    from `mlsteps traffic --drift` inside serve's container reaches the monitor service, and the alert fires."""
    prometheus_port = free_port()
    base = python_image() or "debian:bookworm-slim"  # a locally built Debian where no registry answers
    env = {"MLSTEPS_MONITOR_EVERY": "2", "PROMETHEUS_PORT": str(prometheus_port), "DEBIAN_IMAGE": base}
    stack = Stack(need_compose(), env=env)
    try:
        stack.run("--profile", "monitoring", "up", "--build", "--detach", timeout=900)
        stack.wait_healthy()
        sent = stack.run("exec", "-T", "serve", "mlsteps", "traffic", "--drift", "--feedback", timeout=300).stdout
        assert "sent 300 requests of shifted rows" in sent
        wait_for(
            "a report with drift", lambda: http_json(f"{stack.base_url}/monitor.json")[1].get("drift_detected"), 60
        )

        def firing() -> list[str]:
            alerts = http_json(f"http://127.0.0.1:{prometheus_port}/api/v1/alerts")[1]["data"]["alerts"]
            return [alert["labels"]["alertname"] for alert in alerts if alert["state"] == "firing"]

        assert "MlstepsDriftDetected" in wait_for("the drift alert to fire", firing, timeout=120, every=2)
        assert stack.inspect("prometheus", "{{.Config.User}}") == "10001:10001"
    except BaseException:
        print(f"--- last lines of the stack's logs ---\n{stack.logs()}")
        raise
    finally:
        stack.run(
            "--profile", "monitoring", "down", "-v", "--remove-orphans", "--timeout", "10", timeout=180, check=False
        )


def level2_import_command() -> str:
    """The page's own `docker compose run ... import-model` line (docs/your-own-model.md, level 2)."""
    lines = [line for line in YOUR_OWN_MODEL.read_text().splitlines() if line.startswith("docker compose run ")]
    assert len(lines) == 1 and "import-model" in lines[0], lines
    return lines[0]


@pytest.mark.e2e
def test_compose_trains_the_mixed_table_then_imports_a_model_from_the_host(tmp_path):
    """The shipped penguins CSV (text, missing values) with the default pipeline, answered with text and null;
    then a joblib file from this machine, imported with the page's command, becomes the version serve answers."""
    stack = Stack(need_compose(), env={"MLSTEPS_TARGET_COLUMN": "species"})
    try:
        stack.run("build", timeout=900)
        # The CSV as the image sees it: installed with the learner's package my_ml, beside its code.
        found = stack.run("run", "--rm", "--no-deps", "-T", "train", "python", "-c", FIND_PENGUINS_CSV).stdout
        csv = found.strip().splitlines()[-1]
        assert csv.startswith("/"), csv
        stack.env["MLSTEPS_DATASET"] = f"csv:{csv}"
        stack.run("up", "--detach", timeout=300)
        stack.wait_healthy()

        # The default pipeline on the mixed table: /model lists each feature with its type.
        status, model = http_json(f"{stack.base_url}/model")
        assert status == 200 and model["pipeline"] == "default" and model["source"] == f"csv:{csv}", model
        assert [(feature["name"], feature["type"]) for feature in model["features"]] == PENGUIN_FEATURES
        assert {f["name"]: f.get("categories") for f in model["features"]}["island"] == ["Biscoe", "Dream", "Torgersen"]
        # A row as the table holds it: text as text, null where it is not known; an island never seen is no error.
        rows = [PENGUIN_ROW, {**PENGUIN_ROW, "island": "Atlantis"}]
        status, answer = http_json(f"{stack.base_url}/predict", {"instances": rows})
        assert status == 200 and answer["predictions"][0] == "Gentoo" and len(answer["predictions"]) == 2, answer
        assert answer["classes"] == ["Adelie", "Chinstrap", "Gentoo"]

        # A model trained elsewhere: fitted on the same table by the page's stand-in, saved with joblib, readable
        # by the container's user (uid 10001) through the read-only bind mount.
        from my_ml.save_a_model import main as save_a_model

        folder = tmp_path / "host"
        folder.mkdir()
        save_a_model(str(folder / "penguins.joblib"))
        (folder / "penguins.joblib").chmod(0o644)
        folder.chmod(0o755)
        sha256 = hashlib.sha256((folder / "penguins.joblib").read_bytes()).hexdigest()
        stack.run("stop", "train")  # else its next training publishes a model of its own over the imported one
        before = stack.model_version()
        # The page's command as written, with this test's project: `docker compose` -> the stack's compose argv.
        command = level2_import_command().replace("docker compose", shlex.join(stack.argv), 1)
        imported = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", command],
            cwd=folder,
            env={**stack.env, "PWD": str(folder)},
            stdin=subprocess.DEVNULL,  # no terminal: compose allocates none, the log stays on stderr
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert imported.returncode == 0, f"{command}\n{imported.stdout}{imported.stderr}"
        assert f"imported penguins.joblib (joblib, sha256 {sha256[:12]}..." in imported.stderr, imported.stderr
        version = int(re.search(r"as model v(\d+) .*: promoted", imported.stderr).group(1))
        assert version > before

        # serve picks it up from the volume: the imported version, with its provenance, answers.
        wait_for(f"serve to load the imported v{version}", lambda: stack.model_version() == version, timeout=60)
        status, model = http_json(f"{stack.base_url}/model")
        assert status == 200 and model["pipeline"] == "imported", model
        assert model["imported"]["file"] == "penguins.joblib" and model["imported"]["sha256"] == sha256
        status, answer = http_json(f"{stack.base_url}/predict", {"instances": [PENGUIN_ROW]})
        assert status == 200 and answer["model_version"] == version and answer["predictions"] == ["Gentoo"], answer
    except BaseException:
        print(f"--- last lines of the stack's logs ---\n{stack.logs()}")
        raise
    finally:
        stack.down()
