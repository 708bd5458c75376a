"""Level 3: the plain Kubernetes manifests in src/kubectl.

The fast tests need only Python from .venv: strict schemas for the newest Kubernetes, cron syntax, the
CLI's own parser, the settings contract, level 2's volume and port. The e2e tier adds the slow scans
(strict schemas for every supported Kubernetes version, the checkov policy scan), the real
`kubectl kustomize`, and the manifests as real pods on Podman, which stands in for a cluster here
(see tests/kube_harness.py for what differs).
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml
from apscheduler.triggers.cron import CronTrigger

from helpers import LEARNERS_CODE, REPO_ROOT, check_learners_code_answers, command_works, free_port, headings, need
from images import IMAGE_TAG, STORE_TAG, podman_image, podman_store_image
from kube_harness import (
    COMPONENT,
    PodmanStack,
    checkov_scan,
    containers,
    init_requests_above_the_pods,
    leftovers,
    level3_objects,
    load_objects,
    newest_minor,
    pod_template,
    predict_then_newer_model,
    restricted_profile_problems,
    schema_minors,
    second_replica_reuses_the_model,
    serve_bootstraps_itself,
    store_secret,
    strict_schema_errors,
    two_replicas_follow_the_store,
    validate_with_the_cli,
    yaml_objects,
)
from mlsteps.cli import build_parser
from mlsteps.config import ENV_DEFAULTS, load_settings

KUBECTL_DIR = REPO_ROOT / "src" / "kubectl"
COMPOSE_FILE = REPO_ROOT / "src" / "docker_compose" / "compose.yaml"
CLAIM = "mlsteps-data"
DATA_DIR = "/data"
PORT = 8000
STABLE_LABELS = {"app.kubernetes.io/name": "mlsteps", "app.kubernetes.io/instance": "mlsteps"}
RECOMMENDED = {**STABLE_LABELS, "app.kubernetes.io/part-of": "mlsteps"}
WORKLOADS = ("Job", "CronJob", "Deployment")
COMMANDS = {
    "bootstrap": ["bootstrap", "--if-missing"],
    "load-data": ["load-data"],
    "train": ["train"],
    "serve": ["serve"],
    "monitor": ["monitor"],
}


def kustomization() -> dict:
    return yaml.safe_load((KUBECTL_DIR / "kustomization.yaml").read_text())


def manifest_files() -> list[Path]:
    """The files `kubectl apply -k src/kubectl` applies, in order."""
    return [KUBECTL_DIR / name for name in kustomization()["resources"]]


def objects() -> list[dict]:
    return level3_objects()


def workloads() -> list[dict]:
    return [obj for obj in objects() if obj["kind"] in WORKLOADS]


def env_of(container: dict) -> dict[str, str]:
    return {item["name"]: item.get("value") for item in container.get("env", [])}


# -- the files --------------------------------------------------------------------------------------


def test_kustomization_applies_every_numbered_file_in_order():
    """`apply -k` and the per-file commands in the docs must apply the same files."""
    on_disk = sorted(path.name for path in KUBECTL_DIR.glob("[0-9][0-9]-*.yaml"))
    assert kustomization()["resources"] == on_disk
    assert "commonLabels" not in kustomization(), "deprecated: use labels:"
    assert "labels" in kustomization()


def test_one_object_per_file_with_the_expected_kinds():
    kinds = []
    for path in manifest_files():
        docs = yaml_objects(path.read_text())
        assert len(docs) == 1, f"{path.name} holds {len(docs)} objects; one per file"
        kinds.append(docs[0]["kind"])
    assert kinds == [
        "ConfigMap",
        "PersistentVolumeClaim",
        "CronJob",
        "CronJob",
        "Deployment",
        "Service",
        "CronJob",
    ]  # bootstrap: an init container; the monitor CronJob comes after the others (issue 21)


def test_manifests_pass_strict_schema_validation():
    """Unknown or misplaced fields (a typo kubectl would reject) fail here, offline, for the newest
    Kubernetes; the e2e tier checks every version upstream still supports."""
    assert not strict_schema_errors(objects(), newest_minor())


@pytest.mark.e2e
def test_manifests_pass_strict_schema_validation_on_every_supported_version():
    """The three newest Kubernetes minor versions the schemas cover (those upstream still supports),
    by the kubernetes-validate command, in one run."""
    validate_with_the_cli(manifest_files(), schema_minors()[-3:])


# -- what the workloads run -------------------------------------------------------------------------


def test_cronjobs_have_valid_schedules_and_safe_policies():
    cronjobs = [obj for obj in objects() if obj["kind"] == "CronJob"]
    assert {obj["metadata"]["labels"][COMPONENT] for obj in cronjobs} == {"load-data", "train", "monitor"}
    for obj in cronjobs:
        spec = obj["spec"]
        CronTrigger.from_crontab(spec["schedule"])  # raises ValueError on a bad expression
        assert spec["concurrencyPolicy"] == "Forbid"
        assert spec["timeZone"] == "Etc/UTC" and spec["suspend"] is False
        assert spec["startingDeadlineSeconds"] > 0
        assert spec["successfulJobsHistoryLimit"] >= 1 and spec["failedJobsHistoryLimit"] >= 1
        assert "backoffLimit" in spec["jobTemplate"]["spec"]


def test_every_container_runs_a_real_mlsteps_command():
    """The CLI's own parser accepts each command; the CronJob steps run once (no --every/--cron)."""
    parser = build_parser()
    for obj in workloads():
        for container in containers(obj):
            command = container["command"] + container.get("args", [])
            assert command == ["mlsteps", *COMMANDS[container["name"]]], command
            args = parser.parse_args(command[1:])  # exits (fails the test) on an unknown command/flag
            assert args.command == container["name"]
            assert getattr(args, "every", None) is None and getattr(args, "cron", None) is None, (
                f"{obj['metadata']['name']}: the CronJob is the schedule; the step must run once"
            )


def settings_configmap() -> dict:
    (configmap,) = [obj for obj in objects() if obj["kind"] == "ConfigMap"]
    return configmap


def test_env_names_and_values_are_valid_settings(settings, monkeypatch):
    """What each container reads (the settings ConfigMap, then its own env) are settings the steps accept."""
    shared = settings_configmap()["data"]
    for obj in workloads():
        for container in containers(obj):
            env = {**shared, **env_of(container)}
            unknown = set(env) - set(ENV_DEFAULTS)
            assert not unknown, f"{obj['metadata']['name']}: not a setting: {sorted(unknown)}"
            with monkeypatch.context() as patch:
                for name, value in env.items():
                    if value is not None:  # a value from a Secret is not in the file
                        patch.setenv(name, value)
                load_settings()  # raises ConfigError on a value the steps would reject


def test_every_step_reads_the_one_settings_configmap():
    """One ConfigMap holds the settings and every container reads all of it, so a change is one edit and
    load-data, train and serve's bootstrap can never disagree on the dataset or the pipeline; only what
    the pod fixes (data dir, serve's address) and the signing key (a Secret) are per container."""
    name = settings_configmap()["metadata"]["name"]
    per_container = {"MLSTEPS_DATA_DIR", "MLSTEPS_HOST", "MLSTEPS_PORT", "MLSTEPS_SIGNING_KEY", "MLSTEPS_API_KEY"}
    for obj in workloads():
        for container in containers(obj):
            assert container["envFrom"] == [{"configMapRef": {"name": name}}], container["name"]
            assert set(env_of(container)) <= per_container, container["name"]
    assert not per_container & set(settings_configmap()["data"]), "fixed per pod, or a Secret: never shared"


def test_claim_and_mount_paths_agree_across_objects():
    claims = {obj["metadata"]["name"] for obj in objects() if obj["kind"] == "PersistentVolumeClaim"}
    assert claims == {CLAIM}
    for obj in workloads():
        spec = pod_template(obj)["spec"]
        claim_volumes = {
            v["name"] for v in spec["volumes"] if v.get("persistentVolumeClaim", {}).get("claimName") == CLAIM
        }
        assert len(claim_volumes) == 1, f"{obj['metadata']['name']} must mount the claim {CLAIM}"
        for container in containers(obj):
            mounts = [m["mountPath"] for m in container["volumeMounts"] if m["name"] in claim_volumes]
            assert mounts == [DATA_DIR]
            assert env_of(container)["MLSTEPS_DATA_DIR"] == DATA_DIR


def test_same_volume_path_and_port_as_level2():
    if not COMPOSE_FILE.exists():
        pytest.skip("src/docker_compose/compose.yaml (level 2) does not exist yet")
    compose = yaml.safe_load(COMPOSE_FILE.read_text())
    assert CLAIM in compose["volumes"], "the claim should carry level 2's volume name"
    for name, service in compose["services"].items():
        if "profiles" in service:  # Prometheus (profile "monitoring"): not a step
            continue
        mounts = [m for m in service.get("volumes", []) if str(m).startswith(f"{CLAIM}:")]
        assert mounts == [f"{CLAIM}:{DATA_DIR}"], f"{name} mounts {mounts}"  # serve writes its prediction log
        assert service["environment"]["MLSTEPS_DATA_DIR"] == DATA_DIR
    published = [str(p).rsplit(":", 1)[-1] for p in compose["services"]["serve"]["ports"]]
    assert published == [str(PORT)]
    serve = pod_template(next(o for o in objects() if o["kind"] == "Deployment"))["spec"]["containers"][0]
    assert [p["containerPort"] for p in serve["ports"]] == [PORT]
    assert env_of(serve)["MLSTEPS_PORT"] == str(PORT)
    commands = {name: s["command"][:2] for name, s in compose["services"].items() if "profiles" not in s}
    for obj in workloads():
        for container in containers(obj):
            if container["name"] in commands:
                assert container["command"][:2] == commands[container["name"]]


# -- how the objects are labelled, pinned and hardened ----------------------------------------------


def test_recommended_labels_everywhere_and_stable_selectors():
    for obj in objects():
        labels = obj["metadata"]["labels"]
        assert RECOMMENDED.items() <= labels.items(), obj["metadata"]["name"]
        assert labels[COMPONENT] in ("settings", "data", "load-data", "train", "serve", "monitor")
        if obj["kind"] in WORKLOADS:
            assert pod_template(obj)["metadata"]["labels"] == labels
        if obj["kind"] == "CronJob":  # the Jobs it creates, and so `-l app.kubernetes.io/part-of=mlsteps` lists them
            assert obj["spec"]["jobTemplate"]["metadata"]["labels"] == labels
    deployment = next(o for o in objects() if o["kind"] == "Deployment")
    service = next(o for o in objects() if o["kind"] == "Service")
    selector = deployment["spec"]["selector"]["matchLabels"]
    # The stable pair, plus component: otherwise the Service would also route to the Job pods.
    assert selector == {**STABLE_LABELS, COMPONENT: "serve"}
    assert service["spec"]["selector"] == selector
    assert service["spec"]["type"] == "NodePort"
    assert service["spec"]["ports"][0]["targetPort"] == "http"


def test_images_are_pinned_and_work_when_built_inside_minikube():
    for obj in workloads():
        for container in containers(obj):
            assert container["image"] == IMAGE_TAG
            assert container["imagePullPolicy"] == "IfNotPresent"


def test_pods_are_hardened_and_bounded():
    for obj in workloads():
        spec = pod_template(obj)["spec"]
        pod_security = spec["securityContext"]
        assert pod_security["runAsNonRoot"] is True
        assert pod_security["runAsUser"] == pod_security["runAsGroup"] == pod_security["fsGroup"] == 10001
        assert pod_security["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod_security["fsGroupChangePolicy"] == "OnRootMismatch"
        assert spec["automountServiceAccountToken"] is False
        tmp_volumes = {v["name"] for v in spec["volumes"] if "emptyDir" in v}
        for container in containers(obj):
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False
            assert security["readOnlyRootFilesystem"] is True
            assert security["capabilities"] == {"drop": ["ALL"]}
            assert {m["mountPath"] for m in container["volumeMounts"] if m["name"] in tmp_volumes} == {"/tmp"}
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= container["resources"][bound].keys()
        if obj["kind"] in ("Job", "CronJob"):
            assert spec["restartPolicy"] in ("Never", "OnFailure")


def pods_the_docs_make_by_hand() -> list[tuple[str, dict]]:
    """Each `kubectl run ... --overrides=JSON` pod of the docs: kubectl merges the JSON over the pod it
    generates (a JSON merge patch, so the override's container list replaces the generated one)."""
    pages = sorted((REPO_ROOT / "docs").glob("*.md")) + sorted((REPO_ROOT / "src").glob("*/README.md"))
    found = []
    for page in pages:
        for line in shell_lines(page):
            if line.startswith("kubectl run "):
                overrides = re.search(r"--overrides='(.*)'", line)
                assert overrides, f"{page.name}: a hand-made pod without --overrides gets no security context: {line}"
                found.append((f"{page.name}: {line[:60]}", json.loads(overrides.group(1))["spec"]))
    return found


def test_every_pod_passes_the_restricted_pod_security_profile():
    """A namespace that enforces "restricted" admits every pod of this level, the ones the docs make by
    hand (the model rollback) included; otherwise that one command fails where everything else works."""
    by_hand = pods_the_docs_make_by_hand()
    assert by_hand, "the docs show the model rollback pod"
    pods = [(o["metadata"]["name"], pod_template(o)["spec"]) for o in workloads()] + by_hand
    problems = [f"{name}: {problem}" for name, spec in pods for problem in restricted_profile_problems(spec)]
    assert not problems, problems
    assert restricted_profile_problems({"containers": [{"name": "bare"}]}), "the check must refuse a bare pod"


def test_serve_has_startup_liveness_and_readiness_probes_with_timeouts():
    deployment = next(o for o in objects() if o["kind"] == "Deployment")
    spec = pod_template(deployment)["spec"]
    assert spec["enableServiceLinks"] is False
    container = spec["containers"][0]
    assert container["ports"] == [{"name": "http", "containerPort": PORT}]
    assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["timeoutSeconds"] >= 2, probe  # explicit: the 1 s default is tight
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 60, "room to import and load a model"


def test_serve_bootstraps_in_an_init_container_that_may_write_the_claim():
    """No bootstrap Job: serve's init container publishes a first model when none is loadable, so the
    pod turns ready on its own (rollout status, helm --wait); serve itself writes only its prediction log."""
    assert not [o for o in objects() if o["kind"] == "Job"]
    deployment = next(o for o in objects() if o["kind"] == "Deployment")
    spec = pod_template(deployment)["spec"]
    (init,) = spec["initContainers"]
    serve = spec["containers"][0]
    assert init["name"] == "bootstrap" and init["command"] == ["mlsteps", "bootstrap", "--if-missing"]
    mounts = {c["name"]: next(m for m in c["volumeMounts"] if m["mountPath"] == DATA_DIR) for c in (init, serve)}
    assert "readOnly" not in mounts["bootstrap"] and "readOnly" not in mounts["serve"]  # serve writes its log
    train = next(o for o in objects() if o["kind"] == "CronJob" and o["metadata"]["name"] == "mlsteps-train")
    load_data = next(o for o in objects() if o["kind"] == "CronJob" and o["metadata"]["name"] == "mlsteps-load-data")
    names = lambda c: [e["name"] for e in c["env"]]  # noqa: E731
    # the same settings the steps get: what load-data and train would each read
    assert set(names(init)) == set(names(containers(train)[0])) | set(names(containers(load_data)[0]))
    assert init["resources"]["limits"] == containers(train)[0]["resources"]["limits"]  # room to train
    assert not init_requests_above_the_pods(spec)  # the pod's reservation is serve's, not training's


@pytest.mark.e2e
def test_policy_scan_finds_nothing_unexplained():
    """checkov: no failed check; every skip is an annotation with its reason, and none is stale.
    (e2e tier: checkov takes seconds to start.)"""
    scanned = objects() + load_objects([KUBECTL_DIR / "import-model-job.yaml"])  # checkov reads every file
    skipped = checkov_scan(KUBECTL_DIR, scanned)
    declared = {
        (o["metadata"]["name"], value.split("=", 1)[0])
        for o in scanned
        for key, value in o["metadata"].get("annotations", {}).items()
        if key.startswith("checkov.io/skip")
    }
    used = {(c["resource"].split(".")[2], c["check_id"]) for c in skipped}
    assert declared == used, f"skips declared but not needed: {sorted(declared - used)}"


# -- the docs --------------------------------------------------------------------------------------

GUIDE = REPO_ROOT / "docs" / "level-3-kubectl.md"


def shell_lines(path: Path) -> list[str]:
    lines, inside = [], False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            inside = line == "```bash"
        elif inside:
            lines.append(line)
    return lines


def test_docs_follow_the_fixed_order():
    assert headings(GUIDE) == [
        "Purpose",
        "Prerequisites",
        "Quick start",
        "Verify",
        "What changed from level 2",
        "How it works",
        "Clean up",
        "Troubleshooting",
        "Last validated",
    ]
    assert "../../docs/level-3-kubectl.md" in (KUBECTL_DIR / "README.md").read_text()  # its parts: test_docs


def test_doc_commands_are_copyable_and_apply_every_file():
    lines = shell_lines(GUIDE) + shell_lines(KUBECTL_DIR / "README.md")
    assert lines and not [line for line in lines if line.lstrip().startswith(("$ ", "# ", "> "))]
    per_file = [line.split()[-1] for line in shell_lines(GUIDE) if line.startswith("kubectl apply -f ")]
    assert per_file == [f"src/kubectl/{name}" for name in kustomization()["resources"]]
    for needed in (
        "minikube image build -t mlsteps:0.1.0 -f src/docker_compose/Dockerfile .",
        "kubectl apply -k src/kubectl",
        "kubectl get pods -w",
        "minikube service mlsteps-serve --url",
        "kubectl delete -k src/kubectl",
    ):
        assert needed in lines, needed
    cronjobs = {o["metadata"]["name"] for o in objects() if o["kind"] == "CronJob"}
    triggered = {line.split("cronjob/")[1].split()[0] for line in lines if "--from=cronjob/" in line}
    assert triggered and triggered <= cronjobs
    watched = [line for line in lines if re.search(r" -w\b| --watch\b", line)]
    assert not [line for line in watched if re.search(r"kubectl get \S*,", line)], "-w takes one resource type"


HAND_MADE_JOB = re.compile(r"kubectl create job (?:--namespace \S+ )?--from=cronjob/(\S+) (\S+)")


def jobs_made_by_hand_problems(name: str, lines: list[str]) -> list[str]:
    """A Job's name must be new in the namespace (a fixed one fails with AlreadyExists the second time),
    and a train Job made right after a load-data Job must wait for it: both would run at once and train
    could fit the snapshot before."""
    problems, load_data_running = [], False
    for line in lines:
        created = HAND_MADE_JOB.search(line)
        if created:
            if not created.group(2).endswith("$(date"):  # the name ends in a timestamp, $(date +%s)
                problems.append(f"{name}: a fixed Job name: {line}")
            if created.group(1).endswith("-train") and load_data_running:
                problems.append(f"{name}: train starts before the load-data Job completes: {line}")
            load_data_running = created.group(1).endswith("-load-data")
        elif re.search(r"kubectl wait .*--for=condition=complete", line):
            load_data_running = False
    return problems


def test_jobs_made_by_hand_get_new_names_and_train_waits_for_load_data():
    import helm_python

    pages = sorted((REPO_ROOT / "docs").glob("*.md")) + sorted((REPO_ROOT / "src").glob("*/README.md"))
    problems = [p for page in pages for p in jobs_made_by_hand_problems(page.name, shell_lines(page))]
    with helm_python.Chart.load(REPO_ROOT / "src" / "helm_chart") as chart:
        notes = chart.render({}, name="mlsteps", namespace="default")["mlsteps/templates/NOTES.txt"]
    problems += jobs_made_by_hand_problems("NOTES.txt", [line.strip() for line in notes.splitlines()])
    assert HAND_MADE_JOB.search(notes) and not problems, problems
    assert jobs_made_by_hand_problems("x", ["kubectl create job --from=cronjob/mlsteps-train train-now"])


def test_an_offline_build_inside_minikube_is_explained_as_at_level_2():
    """No registry: level 2's local base image (scripts/runtimes/base_image.sh), copied into minikube and
    passed to the Dockerfile's own build argument."""
    lines = shell_lines(GUIDE)
    script = (REPO_ROOT / "scripts" / "runtimes" / "base_image.sh").read_text()
    base = re.search(r"^local_image=(\S+)", script, re.M).group(1)
    argument = re.search(r"^ARG (\w+)=python:", (REPO_ROOT / "src/docker_compose/Dockerfile").read_text(), re.M)
    assert "bash scripts/runtimes/base_image.sh" in lines
    assert f"minikube image load {base}" in lines
    build_arg = f"--build-opt=build-arg={argument.group(1)}={base}"
    assert f"minikube image build -t {IMAGE_TAG} -f src/docker_compose/Dockerfile {build_arg} ." in lines


# -- with real tools outside .venv ----------------------------------------------------------------


def need_kubectl() -> str:
    """The real kubectl (scripts/runtimes/helm.sh puts one in .tools/bin, else one on PATH), or a skip."""
    local = REPO_ROOT / ".tools" / "bin" / "kubectl"
    kubectl = str(local) if local.exists() else "kubectl"
    need(command_works(kubectl, "version", "--client"), "kubectl is missing (bash scripts/runtimes/helm.sh)")
    return kubectl


@pytest.mark.e2e
def test_kustomize_renders_exactly_the_files_plus_its_label():
    """The real `kubectl kustomize` (scripts/runtimes/helm.sh puts one in .tools/bin) agrees with the files."""
    kubectl = need_kubectl()
    result = subprocess.run([kubectl, "kustomize", str(KUBECTL_DIR)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    rendered = yaml_objects(result.stdout)
    expected = objects()
    for obj in expected:
        obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] = "kustomize"
    key = lambda obj: (obj["kind"], obj["metadata"]["name"])  # noqa: E731
    assert sorted(rendered, key=key) == sorted(expected, key=key)


# -- end to end: real pods on Podman ----------------------------------------------------------------


@pytest.mark.e2e
def test_manifests_run_as_real_pods_on_podman():
    """Podman stands in for a cluster: the claim, serve with its init container, one run of each CronJob, as pods.

    What a cluster would do and Podman does not is done by the harness, and only there: job templates
    played as one-shot pods (the CronJob controller's part), serve published on 127.0.0.1 with
    hostPort (the NodePort Service's part), /readyz polled by the test (the kubelet's probes).
    """
    need(command_works("podman", "info"), "podman is missing or broken (bash scripts/runtimes/podman.sh)")
    image = podman_image()
    timings = {}
    # A tolerance of 1 promotes every new model, so the version must advance; the promotion rule
    # itself is tested with the package.
    stack = PodmanStack(
        objects(), image=image, host_port=free_port(), project="mlsteps-l3", env={"MLSTEPS_PROMOTION_TOLERANCE": "1"}
    )
    with stack:
        base_url = serve_bootstraps_itself(stack, timings)
        container = json.loads(
            subprocess.run(
                ["podman", "inspect", stack.serve_container], check=True, capture_output=True, text=True
            ).stdout
        )[0]
        assert container["Config"]["User"].split(":")[0] == "10001"
        host = container["HostConfig"]
        assert host["ReadonlyRootfs"] is True
        assert "no-new-privileges" in host["SecurityOpt"] and "CAP_NET_RAW" in host["CapDrop"]
        limit = pod_template(stack.find("Deployment", "serve"))["spec"]["containers"][0]["resources"]["limits"][
            "memory"
        ]
        assert limit.endswith("Mi") and host["Memory"] == int(limit[:-2]) * 2**20  # enforced

        assert httpx.get(f"{base_url}/healthz", timeout=10).status_code == 200
        predict_then_newer_model(stack, timings)
        second_replica_reuses_the_model(stack, timings, free_port())
    assert not leftovers(stack.prefix), "the harness left pods or volumes"
    print("level 3 on podman, seconds:", {k: round(v, 1) for k, v in timings.items()})


@pytest.mark.e2e
def test_the_learners_own_code_runs_as_pods(settings):
    """The same image with `kubectl set env`'s variables (docs/your-own-model.md): the example answers."""
    need(command_works("podman", "info"), "podman is missing or broken (bash scripts/runtimes/podman.sh)")
    stack = PodmanStack(
        objects(), image=podman_image(), host_port=free_port(), project="mlsteps-l3my", env=LEARNERS_CODE
    )
    with stack:
        check_learners_code_answers(serve_bootstraps_itself(stack, {}))
    assert not leftovers(stack.prefix), "the harness left pods or volumes"


@pytest.mark.e2e
def test_the_monitor_cronjob_reports_drift_from_what_serve_logged(settings):
    """Level 3 on Podman (standing in for a cluster): serve, as uid 10001 on a read-only root filesystem,
    writes its prediction log to the claim; one run of the monitor CronJob's pod reads it, with the
    feedback, and serve shows the report (issue 21's Podman proof)."""
    need(command_works("podman", "info"), "podman is missing or broken (bash scripts/runtimes/podman.sh)")
    stack = PodmanStack(objects(), image=podman_image(), host_port=free_port(), project="mlsteps-l3mon")
    with stack:
        base_url = serve_bootstraps_itself(stack, {})
        with httpx.Client(base_url=base_url, timeout=10) as client:
            for i in range(250):  # far from the iris training data: every feature drifts
                row = [8.0 + i % 5, 6.0, 9.0, 4.0]
                answer = client.post("/predict", json={"instances": [row]}).json()
                client.post("/feedback", json={"request_id": answer["request_id"], "actual": ["setosa"]})
            time.sleep(2)  # the log's writer writes a batch every second
            assert "mlsteps_prediction_log_written_total 500.0" in client.get("/metrics").text
            run = stack.run_job("monitor")
            assert run.exit_code == 0, run.logs
            assert "DRIFT in" in run.logs and "retraining requested" in run.logs
            stack.wait_for("/monitor.json", timeout=30)
            report = client.get("/monitor.json").json()
        assert report["drift_detected"] is True and report["live_metrics"]["rows"] == 250
        assert report["retrain_requested"] and report["recent"]["rows"] == 250
        run = stack.run_job("train")  # the CronJob's next run honours the request and says why
        assert run.exit_code == 0 and "retraining because the monitor asked" in run.logs, run.logs
    assert not leftovers(stack.prefix), "the harness left pods or volumes"


@pytest.mark.e2e
def test_the_store_overlay_runs_two_serve_replicas_with_no_claim_on_podman():
    """src/kubectl_store as `kubectl apply -k` renders it, with the Secret its comment has the learner
    create (keys made here), played on Podman (tests/kube_harness.py says what stands in for the
    cluster): the SeaweedFS StatefulSet reached by its Service's name, load-data and train writing to the
    bucket, and two serve pods with no claim (`kubectl scale --replicas=2`) that answer from the same
    model and both follow a newer one."""
    kubectl = need_kubectl()
    need(command_works("podman", "info"), "podman is missing or broken (bash scripts/runtimes/podman.sh)")
    overlay = REPO_ROOT / "src" / "kubectl_store"
    result = subprocess.run([kubectl, "kustomize", str(overlay)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    secret = re.search(r"kubectl create secret generic (\S+)", (overlay / "kustomization.yaml").read_text()).group(1)
    objects = yaml_objects(result.stdout) + [store_secret(secret)]
    timings = two_replicas_follow_the_store(objects, podman_image(), {STORE_TAG: podman_store_image()}, "mlsteps-l3s")
    print("level 3 with the store on podman, seconds:", {k: round(v, 1) for k, v in timings.items()})
