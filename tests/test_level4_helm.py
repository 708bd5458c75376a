"""Level 4: the Helm chart in src/helm_chart.

The fast tests need only Python from .venv: a real Helm (the helm-python-sdk wheel, Helm's own Go SDK
as a shared library) renders the chart offline, and the output must be level 3's objects and pass strict
schemas for the newest Kubernetes; the values schema must reject typos. The e2e tier adds the slow
scans (strict schemas for the oldest and newest Kubernetes, the checkov policy scan), the helm binary
(`helm lint --strict`, the CLI's own `helm template`, with Helm 3 and Helm 4 alike) and Podman (the
rendered chart as real pods).
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import functools
import hashlib
import http.server
import json
import re
import shlex
import shutil
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import helm_python
import pytest
import yaml
from apscheduler.triggers.cron import CronTrigger

from helm_commands import commands_in, parse, release_states, render_objects
from helpers import (
    FIND_PENGUINS_CSV,
    LEARNERS_CODE,
    PENGUIN_ROW,
    REPO_ROOT,
    check_learners_code_answers,
    command_works,
    deep_merge,
    free_port,
    headings,
    http_json,
    need,
)
from images import STORE_TAG, podman_image, podman_store_image
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
    quantity,
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

CHART_DIR = REPO_ROOT / "src" / "helm_chart"
RELEASE = "mlsteps"  # with this release name every object has its level-3 name
ENVIRONMENTS = {"default": None, "dev": CHART_DIR / "values-dev.yaml", "prod": CHART_DIR / "values-prod.yaml"}
# Labels Helm charts add by convention; the only labels allowed to differ from level 3.
HELM_LABELS = {"helm.sh/chart", "app.kubernetes.io/version", "app.kubernetes.io/managed-by"}
OPTIONAL_ON = {
    "serve": {
        "autoscaling": {"enabled": True},
        "podDisruptionBudget": {"enabled": True},
        "topologySpread": {"enabled": True},
    },
    "ingress": {"enabled": True, "tls": {"secretName": "mlsteps-tls"}},
    "importModel": {"url": "https://models.example.com/penguins.joblib"},
}
SERVE_ONLY = {"serveOnly": True, "importModel": {"url": "https://models.example.com/penguins.joblib"}}


# -- rendering --------------------------------------------------------------------------------------


def values_file(path: Path | None) -> dict:
    """A values file as `helm -f` reads it (by Helm's own parser)."""
    return helm_python.values_from_yaml(path.read_text()) if path else {}


def render(values: dict | None = None, *, name: str = RELEASE) -> dict[str, str]:
    """Template path -> rendered text, as `helm template <name> src/helm_chart` would print it."""
    with helm_python.Chart.load(CHART_DIR) as chart:
        return chart.render(values or {}, name=name, namespace="default")


def objects_of(rendered: dict[str, str], *, tests: bool = False) -> list[dict]:
    """The Kubernetes objects of a render; `helm test` pods only when `tests` is true."""
    found = []
    for path, text in rendered.items():
        if path.endswith("NOTES.txt") or ("/templates/tests/" in path) != tests:
            continue
        found.extend(yaml_objects(text))
    return found


def chart_objects(values: dict | None = None, name: str = RELEASE) -> list[dict]:
    return objects_of(render(values, name=name))


def by_key(objects: list[dict]) -> dict[tuple[str, str], dict]:
    return {(o["kind"], o["metadata"]["name"]): o for o in objects}


# -- the chart's own files --------------------------------------------------------------------------


def test_chart_metadata():
    chart = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2"
    assert chart["name"] == "mlsteps"
    assert chart["version"] == chart["appVersion"] == "0.1.0"
    assert len(chart["description"]) > 80, "say what the chart installs"


@pytest.mark.parametrize("name", ["values.yaml", "values-dev.yaml", "values-prod.yaml"])
def test_values_files_point_at_the_schema_and_comment_every_key(name):
    lines = (CHART_DIR / name).read_text().splitlines()
    assert lines[0] == "# yaml-language-server: $schema=values.schema.json"
    uncommented = [
        line
        for line in lines
        if re.match(r"^\s*[A-Za-z_][\w.-]*:", line) and " # " not in line and not line.lstrip().startswith("#")
    ]
    assert not uncommented, f"{name}: every key gets a one-line comment: {uncommented}"


def test_schema_describes_every_key_and_allows_no_others():
    schema = json.loads((CHART_DIR / "values.schema.json").read_text())
    problems = []

    def walk(node: dict, path: str) -> None:
        if "properties" in node:
            # A closed set of keys; a map of names (extraEnv) instead constrains its propertyNames.
            if node.get("additionalProperties") is not False and "propertyNames" not in node:
                problems.append(f"{path or '/'}: additionalProperties must be false")
            for key, child in node["properties"].items():
                if "description" not in child and "$ref" not in child:
                    problems.append(f"{path}/{key}: no description")
                walk(child, f"{path}/{key}")
        for child in node.get("definitions", {}).values():
            walk(child, path + "#")

    walk(schema, "")
    assert not problems, problems
    assert set(schema["required"]) <= set(schema["properties"])
    defaults = values_file(CHART_DIR / "values.yaml")
    assert set(defaults) == set(schema["properties"]), "values.yaml and the schema list the same keys"


# -- parity with level 3 ----------------------------------------------------------------------------


def comparable(obj: dict) -> dict:
    """`obj` with what may differ between the levels taken out: Helm's own labels, Helm's annotations
    (the claim's resource policy, the settings' checksum on serve's pods), the wording of checkov skip
    reasons (their check IDs must match), and
    spelled-out Kubernetes defaults (a Deployment's replicas: 1)."""
    obj = copy.deepcopy(obj)

    def clean(node):
        if isinstance(node, dict):
            metadata = node.get("metadata")
            if isinstance(metadata, dict):
                labels = {k: v for k, v in metadata.get("labels", {}).items() if k not in HELM_LABELS}
                annotations = {
                    k: (v.split("=", 1)[0] if k.startswith("checkov.io/skip") else v)
                    for k, v in metadata.get("annotations", {}).items()
                    if not k.startswith(("helm.sh/", "checksum/"))
                }
                metadata.pop("labels", None), metadata.pop("annotations", None)
                if labels:
                    metadata["labels"] = labels
                if annotations:
                    metadata["annotations"] = annotations
            for value in node.values():
                clean(value)
        elif isinstance(node, list):
            for value in node:
                clean(value)

    clean(obj)
    if obj["kind"] == "Deployment" and obj["spec"].get("replicas") == 1:
        del obj["spec"]["replicas"]
    return obj


def test_default_render_has_level3s_objects():
    level3 = level3_objects()
    assert level3, "src/kubectl has no manifests yet"
    assert sorted(by_key(chart_objects())) == sorted(by_key(level3))


@pytest.mark.parametrize("key", sorted(by_key(level3_objects())), ids=lambda key: f"{key[0]}/{key[1]}")
def test_default_render_equals_level3(key):
    """Containers, commands, env, volumes, schedules, probes, resources, security: everything equal."""
    level3 = comparable(by_key(level3_objects())[key])
    chart = comparable(by_key(chart_objects())[key])
    if chart != level3:
        diff = difflib.unified_diff(
            yaml.safe_dump(level3).splitlines(),
            yaml.safe_dump(chart).splitlines(),
            "src/kubectl",
            "helm template",
            lineterm="",
        )
        pytest.fail(f"{key[0]}/{key[1]} differs from level 3:\n" + "\n".join(diff), pytrace=False)


def test_helm_only_differences_are_the_documented_ones():
    """No hook: the release's objects are level 3's, bootstrap included (serve's init container)."""
    chart = by_key(chart_objects())
    assert not [key for key, obj in chart.items() if "helm.sh/hook" in obj["metadata"].get("annotations", {})]
    claim = chart[("PersistentVolumeClaim", "mlsteps-data")]["metadata"]["annotations"]
    assert claim == {"helm.sh/resource-policy": "keep"}
    for obj in chart.values():
        assert obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"
        assert obj["metadata"]["labels"]["helm.sh/chart"] == "mlsteps-0.1.0"


def test_release_name_prefixes_every_object_and_references_follow():
    objects = chart_objects(name="demo")
    names = {o["metadata"]["name"] for o in objects}
    assert names == {
        "demo-mlsteps-settings",
        "demo-mlsteps-data",
        "demo-mlsteps-load-data",
        "demo-mlsteps-train",
        "demo-mlsteps-monitor",
        "demo-mlsteps-serve",
    }
    assert all(o["metadata"]["labels"]["app.kubernetes.io/instance"] == "demo" for o in objects)
    for obj in objects:
        if obj["kind"] in ("Job", "CronJob", "Deployment"):
            claims = [
                v["persistentVolumeClaim"]["claimName"]
                for v in pod_template(obj)["spec"]["volumes"]
                if "persistentVolumeClaim" in v
            ]
            assert claims == ["demo-mlsteps-data"]
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    service = next(o for o in objects if o["kind"] == "Service")
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert service["spec"]["selector"].items() <= pod_template(deployment)["metadata"]["labels"].items()


# -- values and the schema --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("set_flag", "message"),
    [
        ("replicas=3", "additional properties 'replicas' not allowed"),  # belongs under serve.
        ("serve.replica=3", "additional properties 'replica' not allowed"),  # a typo
        ("train.schedule=5", "/train/schedule"),  # a number, not a string
        ("loadData.schedule=every five minutes", "/loadData/schedule"),  # not cron
        ("serve.replicas=three", "/serve/replicas"),
        ("service.type=Nodeport", "/service/type"),
        ("image.pullPolicy=always", "/image/pullPolicy"),
        ("image.tag=latest", 'image.tag "latest" is refused: pin a version'),
        ("image.tag=v1 beta", "image"),  # a space is no OCI tag
        ("image.repository=MLSteps", "image"),  # OCI repository names are lower case
        ("serve.resources.requests.cpu=-1", "cpu"),
        ("serve.resources.limits.memory=-512Mi", "memory"),
        ("persistence.size=-1Gi", "size"),
        ("persistence.accessModes[0]=ReadWriteOncePod", "ReadWriteOnce"),  # the enum it offers instead
        ("securityContext.readOnlyRootFilesytem=true", "readOnlyRootFilesytem"),  # a typo in a closed context
        ("podSecurityContext.runAsUser=-5", "runAsUser"),
        ("podSecurityContext.fsGroupChangePolicy=Sometimes", "fsGroupChangePolicy"),
        ("train.suspend=yes", "suspend"),
        ("train.schedule=61 * * * *", 'the minute field "61" is out of range: minute must be 0-59'),
        ("loadData.schedule=0 24 * * *", 'the hour field "24" is out of range: hour must be 0-23'),
        ("train.schedule=0 0 32 * *", "day-of-month must be 1-31"),
        ("train.schedule=0 0 * 13 *", "month must be 1-12"),
        ("train.schedule=0 0 * * 7", "day-of-week must be 0-6"),  # the API server's cron (robfig/cron v3) has no 7
        ("train.schedule=0 0 * * 1-7", "day-of-week must be 0-6"),
        ("train.schedule=*/0 * * * *", "has a bad step"),
        (
            "serve.autoscaling.enabled=true,serve.autoscaling.minReplicas=5",
            "serve.autoscaling.minReplicas (5) is larger than serve.autoscaling.maxReplicas (3)",
        ),
        ("dataset=mnist", "/dataset"),
        ("persistence.keep=yes", "/persistence/keep"),
        ("serve.autoscaling.targetCPUUtilizationPercentage=150", "/serve/autoscaling/targetCPUUtilizationPercentage"),
        ("extraEnv.MLSTEPS_DATA_DIR=/elsewhere", "/extraEnv/MLSTEPS_DATA_DIR"),  # the chart sets it
        ("extraEnv.MLSTEPS_LOG_LEVEL=DEBUG", "/extraEnv/MLSTEPS_LOG_LEVEL"),  # it has its own key, logLevel
        ("extraEnv.MLSTEPS_SIGNING_KEY=0123456789abcdef", "/extraEnv/MLSTEPS_SIGNING_KEY"),  # a Secret, never a value
        ("logLevel=debug", "/logLevel"),
        ("maxBodyBytes=100", "/maxBodyBytes"),  # 0 (unset) or 1024 and more
        ("keepModels=0", "/keepModels"),
        ("extraEnv.LOG_LEVEL=DEBUG", "invalid propertyName 'LOG_LEVEL'"),  # not an MLSTEPS_ variable
    ],
)
def test_schema_rejects_bad_set_values(set_flag, message):
    """What `helm install --set <flag>` would do: Helm parses the flag, the schema (or a check in the
    templates, with a sentence) refuses it."""
    with pytest.raises(helm_python.HelmError) as error:
        render(helm_python.parse_set_string(set_flag))
    assert message in str(error.value), str(error.value)


@pytest.mark.parametrize(
    "set_flag",
    [
        "train.schedule=0 */6 * * *",
        "loadData.schedule=@hourly",
        "dataset=csv:/data/houses.csv",
        "serve.replicas=2",
        "image.tag=0.2.0",
        "service.type=ClusterIP",
        "logLevel=DEBUG",
        "extraEnv.MLSTEPS_NOT_A_CHART_KEY_YET=on",  # a setting the chart has no key for
        "maxBodyBytes=4096",
        "persistence.storageClass=standard",
        "train.schedule=0 0 * jan-mar mon-fri",
        "train.schedule=0 8-18/2 1-15 * *",
        "image.repository=registry.example.com:5000/team/mlsteps",
        "image.tag=2026.11-rc_1",
        "train.suspend=true",
        "serve.autoscaling.enabled=true,serve.autoscaling.minReplicas=3,serve.autoscaling.maxReplicas=3",
    ],
)
def test_schema_accepts_good_set_values(set_flag):
    assert chart_objects(helm_python.parse_set_string(set_flag))


def test_set_reaches_the_objects():
    objects = by_key(
        chart_objects(helm_python.parse_set_string("train.schedule=0 */6 * * *,image.tag=0.2.0,logLevel=DEBUG"))
    )
    train = objects[("CronJob", "mlsteps-train")]
    assert train["spec"]["schedule"] == "0 */6 * * *"
    assert objects[("ConfigMap", "mlsteps-settings")]["data"]["MLSTEPS_LOG_LEVEL"] == "DEBUG"
    for obj in objects.values():
        if obj["kind"] in ("Job", "CronJob", "Deployment"):
            for container in containers(obj):
                assert container["image"] == "mlsteps:0.2.0"
                assert container["envFrom"] == [{"configMapRef": {"name": "mlsteps-settings"}}]


def serve_checksum(values: dict) -> str:
    serve = by_key(chart_objects(values))[("Deployment", "mlsteps-serve")]
    return pod_template(serve)["metadata"]["annotations"]["checksum/settings"]


def test_a_changed_setting_rolls_serve_on_upgrade():
    """serve reads its settings when it starts: a `helm upgrade` that changes one must change serve's pod
    template, or the Deployment keeps its old pods (helm docs, "Automatically Roll Deployments")."""
    assert serve_checksum({}) == serve_checksum({"logLevel": "INFO"})  # the same settings: no roll
    assert serve_checksum({}) != serve_checksum({"logLevel": "DEBUG"})
    assert serve_checksum({}) != serve_checksum({"extraEnv": {"MLSTEPS_NOT_A_CHART_KEY_YET": "1"}})


def test_optional_blocks_are_off_by_default_and_render_when_on():
    kinds = {o["kind"] for o in chart_objects()}
    assert not kinds & {"HorizontalPodAutoscaler", "Ingress", "Job"}
    objects = by_key(chart_objects(OPTIONAL_ON))
    hpa = objects[("HorizontalPodAutoscaler", "mlsteps-serve")]
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "mlsteps-serve"}
    assert "replicas" not in objects[("Deployment", "mlsteps-serve")]["spec"], "the autoscaler owns replicas"
    ingress = objects[("Ingress", "mlsteps-serve")]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "mlsteps-serve", "port": {"name": "http"}}
    assert ingress["spec"]["tls"][0]["secretName"] == "mlsteps-tls"


def import_job(objects: list[dict]) -> dict:
    (job,) = [o for o in objects if o["kind"] == "Job"]
    return job


def test_import_model_url_adds_a_job_that_loads_data_then_imports():
    """importModel.url: one Job, load-data (the snapshot whose holdout scores the model) then import-model URL."""
    values = {"importModel": {"url": SERVE_ONLY["importModel"]["url"], "force": True, "trust": ["numpy.dtype"]}}
    objects = chart_objects(values)
    job = import_job(objects)
    assert job["metadata"]["labels"][COMPONENT] == "import-model"
    assert re.fullmatch(r"mlsteps-import-[0-9a-f]{8}", job["metadata"]["name"])
    spec = pod_template(job)["spec"]
    (load,), (imported,) = spec["initContainers"], spec["containers"]
    assert load["command"] == ["mlsteps", "load-data"]
    url = values["importModel"]["url"]
    assert imported["command"] == ["mlsteps", "import-model", url, "--force", "--trust", "numpy.dtype"]
    assert "MLSTEPS_SIGNING_KEY" in [variable["name"] for variable in imported["env"]]
    other = import_job(chart_objects({"importModel": {"url": url.replace("penguins", "other")}}))
    assert other["metadata"]["name"] != job["metadata"]["name"], "a new URL is a new Job (its template is fixed)"
    assert {o["kind"] for o in objects} >= {"CronJob", "Deployment"}, "alone, it adds to the release"


def test_serve_only_has_no_cronjobs_and_no_training_init_container():
    """One release per pre-trained model: the claim, the settings, serve (without bootstrap, which would train),
    the import Job."""
    objects = by_key(chart_objects(SERVE_ONLY))
    assert sorted(objects) == sorted(
        [
            ("ConfigMap", "mlsteps-settings"),
            ("Deployment", "mlsteps-serve"),
            ("Job", import_job(list(objects.values()))["metadata"]["name"]),
            ("PersistentVolumeClaim", "mlsteps-data"),
            ("Service", "mlsteps-serve"),
        ]
    )
    serve = objects[("Deployment", "mlsteps-serve")]
    assert "initContainers" not in pod_template(serve)["spec"]
    assert [c["command"] for c in pod_template(serve)["spec"]["containers"]] == [["mlsteps", "serve"]]


def test_the_import_job_equals_level3s_manifest_but_for_its_name():
    """src/kubectl/import-model-job.yaml (created by hand, not by -k) is what the chart renders for its URL."""
    (level3,) = load_objects([REPO_ROOT / "src/kubectl/import-model-job.yaml"])
    url = containers(level3)[-1]["command"][2]
    chart = comparable(import_job(chart_objects({"importModel": {"url": url}})))
    chart["metadata"]["name"] = level3["metadata"]["name"]
    assert chart == comparable(level3)


@pytest.mark.parametrize(
    ("set_flag", "message"),
    [
        ("serveOnly=true", "serveOnly is true and importModel.url is empty"),
        ("importModel.url=ftp://example.com/m.joblib", "/importModel/url"),
        ("importModel.force=yes", "/importModel/force"),
    ],
)
def test_serve_only_and_import_values_are_checked(set_flag, message):
    with pytest.raises(helm_python.HelmError) as error:
        render(helm_python.parse_set_string(set_flag))
    assert message in str(error.value), str(error.value)


def fires_per_day(schedule: str) -> int:
    trigger = CronTrigger.from_crontab(schedule, timezone=UTC)
    start = datetime(2026, 1, 5, tzinfo=UTC)
    count, moment = 0, trigger.get_next_fire_time(None, start)
    while moment < start + timedelta(days=1):
        count += 1
        moment = trigger.get_next_fire_time(moment, moment + timedelta(seconds=1))
    return count


def cpu_millis(quantity: str | int | float) -> float:
    text = str(quantity)
    return float(text[:-1]) if text.endswith("m") else float(text) * 1000


def test_environment_files_do_what_they_say():
    default = by_key(chart_objects())
    dev = by_key(chart_objects(values_file(ENVIRONMENTS["dev"])))
    prod = by_key(chart_objects(values_file(ENVIRONMENTS["prod"])))
    # dev: the claim goes with the release, logs are verbose
    assert "annotations" not in dev[("PersistentVolumeClaim", "mlsteps-data")]["metadata"]
    assert dev[("ConfigMap", "mlsteps-settings")]["data"]["MLSTEPS_LOG_LEVEL"] == "DEBUG"
    # prod: autoscaled serve with more pods, larger pods, slower schedules, an ingress
    hpa = prod[("HorizontalPodAutoscaler", "mlsteps-serve")]["spec"]
    assert hpa["minReplicas"] >= 3 and hpa["maxReplicas"] > hpa["minReplicas"]
    assert ("Ingress", "mlsteps-serve") in prod
    for key in [k for k in default if k[0] in ("Job", "CronJob", "Deployment")]:
        small, large = containers(default[key])[0]["resources"], containers(prod[key])[0]["resources"]
        assert cpu_millis(large["requests"]["cpu"]) > cpu_millis(small["requests"]["cpu"]), key
    for name in ("mlsteps-load-data", "mlsteps-train"):
        assert fires_per_day(prod[("CronJob", name)]["spec"]["schedule"]) < fires_per_day(
            default[("CronJob", name)]["spec"]["schedule"]
        )
    # every schedule any environment uses is valid cron for the steps too
    for objects in (default, dev, prod):
        for obj in objects.values():
            if obj["kind"] == "CronJob":
                CronTrigger.from_crontab(obj["spec"]["schedule"])


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_bootstrap_never_reserves_more_than_serve(environment):
    """The scheduler reserves max(init container's requests, serve's) for each serve pod's whole life:
    a bootstrap that asks for more than serve makes every autoscaled pod reserve what only a first
    training needs, and pods stay Pending on a cluster sized for serve."""
    serve = by_key(chart_objects(values_file(ENVIRONMENTS[environment])))[("Deployment", "mlsteps-serve")]
    assert not init_requests_above_the_pods(pod_template(serve)["spec"])


def test_release_names_that_make_a_cronjob_name_too_long_are_refused():
    """The API server refuses a CronJob name over 52 characters (the Job controller appends 11): the chart
    says so before anything is created. "<release>-mlsteps-load-data" is the longest name."""
    longest = "r" * 34
    names = {o["metadata"]["name"] for o in chart_objects(name=longest)}
    assert f"{longest}-mlsteps-load-data" in names and max(map(len, names)) <= 52
    with pytest.raises(helm_python.HelmError) as error:
        render(name=longest + "r")
    assert 'the CronJob name "' + longest + 'r-mlsteps-load-data" is 53 characters long' in str(error.value)
    assert chart_objects(name="my-long-mlsteps-release-name-for-the-team")  # "mlsteps" in it: no suffix added


@pytest.mark.parametrize("optional", [False, True], ids=["as-shipped", "optional-blocks-on"])
@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_pod_passes_the_restricted_pod_security_profile(environment, optional):
    """The release's pods and its `helm test` pod, in a namespace that enforces "restricted"."""
    rendered = render(environment_values(environment, optional))
    objects = objects_of(rendered) + objects_of(rendered, tests=True)
    pods = [
        (o["metadata"]["name"], o["spec"] if o["kind"] == "Pod" else pod_template(o)["spec"])
        for o in objects
        if o["kind"] in ("Pod", "CronJob", "Deployment")
    ]
    assert len(pods) == 5
    problems = [f"{name}: {problem}" for name, spec in pods for problem in restricted_profile_problems(spec)]
    assert not problems, problems


def test_prod_survives_a_node_going_away():
    """Several serve pods help only if a drain cannot take them all at once and they do not share one
    node: prod has a PodDisruptionBudget and a spread over hostnames, both on serve's own pods."""
    prod = by_key(chart_objects(values_file(ENVIRONMENTS["prod"])))
    serve = prod[("Deployment", "mlsteps-serve")]
    selector = serve["spec"]["selector"]
    assert prod[("PodDisruptionBudget", "mlsteps-serve")]["spec"] == {"maxUnavailable": 1, "selector": selector}
    (spread,) = pod_template(serve)["spec"]["topologySpreadConstraints"]
    assert spread["topologyKey"] == "kubernetes.io/hostname" and spread["maxSkew"] == 1
    assert spread["labelSelector"] == selector and spread["matchLabelKeys"] == ["pod-template-hash"]
    assert selector["matchLabels"].items() <= pod_template(serve)["metadata"]["labels"].items()
    default = by_key(chart_objects())
    assert not [key for key in default if key[0] == "PodDisruptionBudget"]
    assert "topologySpreadConstraints" not in pod_template(default[("Deployment", "mlsteps-serve")])["spec"]


def test_prod_pulls_its_image_from_a_registry_marked_as_a_placeholder():
    """A node without the image pulls it: "mlsteps" alone means docker.io/library/mlsteps, which is not
    ours. prod names a registry (a host with a dot or a port first) and marks it as the learner's to fill."""
    prod = by_key(chart_objects(values_file(ENVIRONMENTS["prod"])))
    images = {c["image"] for obj in prod.values() if obj["kind"] in ("CronJob", "Deployment") for c in containers(obj)}
    (image,) = images
    host = image.split("/")[0]
    assert "/" in image and ("." in host or ":" in host), image
    (line,) = [line for line in ENVIRONMENTS["prod"].read_text().splitlines() if line.strip().startswith("repository:")]
    assert "PLACEHOLDER" in line


# -- what a learner reads after install, and `helm test` ---------------------------------------------


def test_notes_tell_how_to_reach_the_api_and_run_a_cronjob():
    notes = render()[f"{RELEASE}/templates/NOTES.txt"]
    assert "minikube service mlsteps-serve" in notes
    assert "kubectl port-forward --namespace default service/mlsteps-serve 8000:8000" in notes
    assert "--from=cronjob/mlsteps-train" in notes and "--from=cronjob/mlsteps-load-data" in notes
    assert "helm test mlsteps" in notes
    assert "{{" not in notes and "<no value>" not in notes


def test_helm_test_pod_calls_readyz_and_predict_with_the_apps_image():
    tests = objects_of(render(), tests=True)
    assert [o["kind"] for o in tests] == ["Pod"]
    pod = tests[0]
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert pod["spec"]["restartPolicy"] == "Never"
    container = pod["spec"]["containers"][0]
    assert container["image"] == "mlsteps:0.1.0"
    script = "\n".join(container["command"] + container["args"])
    assert "/readyz" in script and "/predict" in script
    env = {e["name"]: e.get("value") for e in container["env"]}  # MLSTEPS_API_KEY: from a Secret
    assert env["MLSTEPS_TEST_URL"] == "http://mlsteps-serve:8000"
    assert json.loads(env["MLSTEPS_TEST_INSTANCE"]) == [5.1, 3.5, 1.4, 0.2]
    serve = by_key(chart_objects())[("Deployment", "mlsteps-serve")]
    assert pod["spec"]["securityContext"] == pod_template(serve)["spec"]["securityContext"]
    assert container["securityContext"] == containers(serve)[0]["securityContext"]


# -- strict schemas and the policy scan on every environment ---------------------------------------


def rendered_text(values: dict) -> str:
    return "\n---\n".join(text for path, text in render(values).items() if not path.endswith("NOTES.txt"))


def environment_values(environment: str, optional: bool = False) -> dict:
    values = values_file(ENVIRONMENTS[environment])
    return deep_merge(values, OPTIONAL_ON) if optional else values


def write_renders(folder: Path) -> list[Path]:
    """Each environment's render, as shipped and with the optional blocks on, one file each."""
    paths = []
    for environment in ENVIRONMENTS:
        for optional in (False, True):
            path = folder / f"{environment}{'-optional' if optional else ''}.yaml"
            path.write_text(rendered_text(environment_values(environment, optional)))
            paths.append(path)
    return paths


@pytest.mark.parametrize("optional", [False, True], ids=["as-shipped", "optional-blocks-on"])
@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_rendered_output_passes_strict_kubernetes_schemas(environment, optional):
    """For the newest Kubernetes, in process; the e2e tier adds the oldest, with the command."""
    rendered = yaml_objects(rendered_text(environment_values(environment, optional)))
    assert not strict_schema_errors(rendered, newest_minor())


@pytest.mark.e2e
def test_rendered_output_passes_strict_schemas_on_the_oldest_and_newest_version(tmp_path):
    """The oldest and the newest Kubernetes minor the schemas cover (the chart asks for >=1.23), every
    environment, by the kubernetes-validate command, in one run."""
    minors = schema_minors()
    validate_with_the_cli(write_renders(tmp_path), [minors[0], minors[-1]])


@pytest.mark.e2e
def test_policy_scan_finds_nothing_unexplained(tmp_path):
    """checkov on each environment's render (optional blocks on too): no failure, every skip has a reason.
    (e2e tier: checkov takes seconds to start.)"""
    checkov_scan(tmp_path, load_objects(write_renders(tmp_path)))


# -- the helm binaries, Helm 3 and Helm 4 (e2e: scripts/runtimes/helm.sh installs both) -------------

HELM_MAJORS = ("3", "4")


@functools.cache
def helm_binaries() -> dict[str, str]:
    """Major version -> a helm that answers: on PATH, or where scripts/runtimes/helm.sh puts them side by
    side (.tools/bin/helm is Helm 4, .tools/bin/helm3 is Helm 3)."""
    found: dict[str, str] = {}
    for name in ("helm", "helm3"):
        for candidate in (shutil.which(name), REPO_ROOT / ".tools" / "bin" / name):
            if not candidate or not Path(candidate).is_file():
                continue
            result = subprocess.run([str(candidate), "version", "--short"], capture_output=True, text=True)
            match = re.match(r"v(\d+)\.", result.stdout.strip())
            if result.returncode == 0 and match:
                found.setdefault(match.group(1), str(candidate))
    return found


def need_helm(major: str) -> str:
    helm = helm_binaries().get(major)
    need(
        helm is not None,
        f"Helm {major} is missing (bash scripts/runtimes/helm.sh: Helm 4 in .tools/bin/helm, Helm 3 in .../helm3)",
    )
    return helm


@pytest.mark.e2e
@pytest.mark.parametrize("major", HELM_MAJORS)
@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_helm_lint_strict(environment, major):
    helm = need_helm(major)
    argv = [helm, "lint", "--strict", str(CHART_DIR)]
    if ENVIRONMENTS[environment]:
        argv += ["-f", str(ENVIRONMENTS[environment])]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[WARNING]" not in result.stdout and "[ERROR]" not in result.stdout, result.stdout


@pytest.mark.e2e
@pytest.mark.parametrize("major", HELM_MAJORS)
def test_helm_cli_renders_what_the_sdk_renders(major):
    """The learner's `helm template`, Helm 3 or 4, and the fast tests' SDK agree, object for object."""
    helm = need_helm(major)
    for environment, path in ENVIRONMENTS.items():
        argv = [helm, "template", RELEASE, str(CHART_DIR)] + (["-f", str(path)] if path else [])
        result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        cli = yaml_objects(result.stdout)
        sdk = objects_of(render(values_file(path))) + objects_of(render(values_file(path)), tests=True)
        assert sorted(map(json.dumps, cli)) == sorted(map(json.dumps, sdk)), environment


@pytest.mark.e2e
@pytest.mark.parametrize("major", HELM_MAJORS)
@pytest.mark.parametrize(
    ("set_flag", "words"),
    [
        ("serve.replica=3", ["replica", "not allowed"]),  # Helm 4: additional properties 'replica' not allowed
        ("securityContext.privileged=yes", ["privileged"]),  # Helm 3: "Additional property ... is not allowed"
        ("serve.resources.requests.cpu=-1", ["cpu"]),
        ("train.schedule=61 * * * *", ['the minute field "61" is out of range: minute must be 0-59']),
        ("image.tag=latest", ['image.tag "latest" is refused']),
    ],
)
def test_helm_cli_rejects_bad_values_with_a_clear_message(set_flag, words, major):
    """The messages the docs show hold on both majors: the schema's name the key, the chart's own are sentences."""
    helm = need_helm(major)
    result = subprocess.run(
        [helm, "template", RELEASE, str(CHART_DIR), "--set", set_flag], capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert all(word.lower() in result.stderr.lower() for word in words), result.stderr


@pytest.mark.e2e
@pytest.mark.parametrize("major", HELM_MAJORS)
def test_every_helm_flag_the_docs_use_exists_and_its_deprecation_is_explained(major):
    """Each helm command of the docs, with `--help` added, parsed by the real Helm 3 and Helm 4: an
    unknown flag fails, and a deprecated one (Helm 4's --atomic) must have its new name on that page."""
    helm = need_helm(major)
    problems = []
    for page in DOC_PAGES:
        if page.suffix != ".md":
            continue
        text = page.read_text()
        for block in re.findall(r"```bash\n(.*?)```", text, re.S):
            for line in block.splitlines():
                if not re.match(
                    r"^helm (install|upgrade|rollback|test|template|lint|status|history|uninstall|get)\b", line
                ):
                    continue
                words = [w for w in shlex.split(line.split("|")[0])[1:]]
                result = subprocess.run([helm, *words, "--help"], capture_output=True, text=True, timeout=60)
                if result.returncode != 0:
                    problems.append(f"{page.name}: {line}: {result.stderr.strip()}")
                for new_name in re.findall(r"deprecated, use (\S+) instead", result.stderr):
                    if new_name not in text:
                        problems.append(f"{page.name}: {line}: Helm {major} says use {new_name}; the page never does")
    assert not problems, problems


# -- end to end: the rendered chart as real pods on Podman ------------------------------------------


def run_helm_test_pod(test_pod: dict, image: str, serve_pod: str) -> subprocess.CompletedProcess:
    """Run the `helm test` pod's container inside the serve pod's network, as the same user with the
    same restrictions. In a cluster it reaches serve through the Service's DNS name; here, where
    Podman has no Services, it reaches serve on the pod's own 127.0.0.1:8000."""
    container = test_pod["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"] if "value" in e}  # not the API key's optional Secret
    env["MLSTEPS_TEST_URL"] = "http://127.0.0.1:8000"
    security = test_pod["spec"]["securityContext"]
    argv = [
        "podman",
        "run",
        "--rm",
        "--pod",
        serve_pod,
        "--user",
        f"{security['runAsUser']}:{security['runAsGroup']}",
        "--read-only",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
    ]
    for name, value in env.items():
        argv += ["--env", f"{name}={value}"]
    argv += ["--entrypoint", container["command"][0], image, *container["command"][1:], *container["args"]]
    return subprocess.run(argv, capture_output=True, text=True, timeout=180)


@pytest.mark.e2e
def test_rendered_chart_runs_as_real_pods_on_podman():
    """Podman stands in for a cluster (tests/kube_harness.py says what it does in a cluster's place):
    the claim, serve whose init container trains the first model (no Job, no hook), one run of each
    CronJob, a second serve pod that reuses the model, and the `helm test` pod's own script against
    serve. The objects are the chart's, rendered by Helm."""
    need(command_works("podman", "info"), "podman is missing or broken (bash scripts/runtimes/podman.sh)")
    image = podman_image()
    rendered = render()
    objects = objects_of(rendered)
    test_pod = objects_of(rendered, tests=True)[0]
    timings = {}
    # A tolerance of 1 promotes every new model, so the version must advance; the promotion rule
    # itself is tested with the package.
    stack = PodmanStack(
        objects, image=image, host_port=free_port(), project="mlsteps-l4", env={"MLSTEPS_PROMOTION_TOLERANCE": "1"}
    )
    with stack:
        serve_bootstraps_itself(stack, timings)

        started = time.monotonic()
        result = run_helm_test_pod(test_pod, image, stack.serve_pod)
        timings["helm test pod"] = time.monotonic() - started
        assert result.returncode == 0, result.stdout + result.stderr
        assert "GET /readyz: 200" in result.stdout and "POST /predict:" in result.stdout, result.stdout

        for step in ("load-data", "train"):
            assert stack.find("CronJob", step)["metadata"]["labels"][COMPONENT] == step
        predict_then_newer_model(stack, timings)
        second_replica_reuses_the_model(stack, timings, free_port())
    assert not leftovers(stack.prefix), "the harness left pods or volumes"
    print("level 4 on podman, seconds:", {k: round(v, 1) for k, v in timings.items()})


class QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@contextlib.contextmanager
def file_server(folder: Path):
    """`folder` over plain HTTP on 127.0.0.1 (an object store's link, as the cluster would reach it)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietFiles, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.e2e
def test_serve_only_release_serves_a_model_imported_from_a_url_on_podman(tmp_path):
    """serveOnly=true with importModel.url, rendered by Helm and played on Podman: the import Job loads the
    shipped penguins table then imports a joblib file from a URL; serve (no training at all) answers with it."""
    need(command_works("podman", "info"), "podman is missing or broken (bash scripts/runtimes/podman.sh)")
    image = podman_image()
    found = subprocess.run(
        ["podman", "run", "--rm", image, "python", "-c", FIND_PENGUINS_CSV], capture_output=True, text=True, timeout=120
    )
    csv = found.stdout.strip().splitlines()[-1]
    assert csv.startswith("/"), found.stdout + found.stderr
    from my_ml.save_a_model import main as save_a_model  # the stand-in of docs/your-own-model.md

    save_a_model(str(tmp_path / "penguins.joblib"))
    sha256 = hashlib.sha256((tmp_path / "penguins.joblib").read_bytes()).hexdigest()
    with file_server(tmp_path) as files:
        url = f"{files}/penguins.joblib"
        values = {"serveOnly": True, "importModel": {"url": url}, "dataset": f"csv:{csv}", "targetColumn": "species"}
        objects = chart_objects(values)
        # Podman has no cluster network: the Job's pod shares this machine's, to reach the server on 127.0.0.1.
        pod_template(import_job(objects))["spec"]["hostNetwork"] = True
        stack = PodmanStack(objects, image=image, host_port=free_port(), project="mlsteps-l4-import")
        with stack:
            assert not stack.find("Deployment", "serve")["spec"]["template"]["spec"].get("initContainers")
            imported = stack.run_job("import-model")
            assert imported.exit_code == 0, imported.logs
            assert f"imported penguins.joblib (joblib, sha256 {sha256[:12]}...) as model v1 " in imported.logs
            base = stack.start_serve()
            status, model = http_json(f"{base}/model")
            assert status == 200 and model["version"] == 1 and model["pipeline"] == "imported", model
            assert model["imported"]["sha256"] == sha256 and model["imported"]["url"] == url
            status, answer = http_json(f"{base}/predict", {"instances": [PENGUIN_ROW]})
            assert status == 200 and answer["model_version"] == 1 and answer["predictions"] == ["Gentoo"], answer
    assert not leftovers(stack.prefix), "the harness left pods or volumes"


STORE_VALUES = {"store": "s3://mlsteps/level4", "seaweedfs": {"enabled": True}, "serve": {"replicas": 2}}


@pytest.mark.e2e
def test_the_chart_with_the_in_cluster_store_runs_two_serve_replicas_with_no_claim_on_podman():
    """store + seaweedfs.enabled + serve.replicas=2, rendered by Helm, with the Secret a learner creates
    (keys made here), played on Podman (tests/kube_harness.py says what stands in for the cluster): the
    SeaweedFS StatefulSet with its own claim, reached by its Service's name; load-data and train write to
    the bucket; two serve pods with no claim answer from the same model and both follow a newer one."""
    need(command_works("podman", "info"), "podman is missing or broken (bash scripts/runtimes/podman.sh)")
    objects = chart_objects(STORE_VALUES) + [store_secret("mlsteps-store")]
    assert by_key(objects)[("Deployment", "mlsteps-serve")]["spec"]["replicas"] == 2
    timings = two_replicas_follow_the_store(objects, podman_image(), {STORE_TAG: podman_store_image()}, "mlsteps-l4s")
    print("level 4 with the store on podman, seconds:", {k: round(v, 1) for k, v in timings.items()})


# -- the docs and the helm fetcher ------------------------------------------------------------------


def test_docs_follow_the_fixed_order_and_commands_are_copyable():
    guide = REPO_ROOT / "docs" / "level-4-helm.md"
    assert headings(guide) == [
        "Purpose",
        "Prerequisites",
        "Quick start",
        "Verify",
        "Change it: `helm upgrade --set`, `helm rollback`",
        "Uninstall",
        "What changed from level 3",
        "How it works",
        "Clean up",
        "Troubleshooting",
        "Last validated",
    ]
    readme = CHART_DIR / "README.md"  # its parts: test_docs
    assert "docs/level-4-helm.md" in readme.read_text()
    for path in (guide, readme):
        text = path.read_text()
        assert "helm upgrade --install mlsteps src/helm_chart" in text  # the same command works again
        blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
        assert blocks and not [line for block in blocks for line in block.splitlines() if line.startswith("$ ")], (
            f"{path.name}: no prompt characters in commands"
        )


def test_every_rejection_the_guide_lists_is_refused_with_its_message():
    """The table of refused `--set` values in docs/level-4-helm.md: each fails, with the words shown."""
    guide = (REPO_ROOT / "docs" / "level-4-helm.md").read_text()
    rows = re.findall(r"^\| `([^`]+)` \| `([^`]+)`", guide, re.M)
    assert len(rows) >= 8, rows
    for set_flag, message in rows:
        with pytest.raises(helm_python.HelmError) as error:
            render(helm_python.parse_set_string(set_flag.replace('"', "")))
        shown = message.split(" ...")[0]
        assert shown in str(error.value), (set_flag, str(error.value))


GUIDE = REPO_ROOT / "docs" / "level-4-helm.md"
DOC_PAGES = [
    REPO_ROOT / "README.md",
    *sorted((REPO_ROOT / "docs").glob("*.md")),
    *sorted((REPO_ROOT / "src").glob("*/README.md")),
    ENVIRONMENTS["dev"],  # their headers show a command too
    ENVIRONMENTS["prod"],
]


def claim_changes(before: dict, after: dict) -> list[str]:
    """What an upgrade from `before` to `after` asks of the claim that the API server refuses: a
    PersistentVolumeClaim's spec is immutable but for a larger size (which the class must allow too;
    minikube's standard does not, so any change of size fails there)."""
    fixed = {k: v for k, v in before["spec"].items() if k != "resources"}
    changed = {k: v for k, v in after["spec"].items() if k != "resources"}
    problems = [
        f"{key}: {fixed.get(key)} -> {changed.get(key)}"
        for key in fixed.keys() | changed.keys()
        if fixed.get(key) != changed.get(key)
    ]
    sizes = [quantity(claim["spec"]["resources"]["requests"]["storage"]) for claim in (before, after)]
    if sizes[0] != sizes[1]:
        problems.append(f"size {sizes[0]:g} -> {sizes[1]:g} bytes")
    return problems


def test_no_documented_upgrade_changes_the_claims_immutable_spec():
    """Every install/upgrade the docs and values files show, in reading order, rendered per (release,
    namespace): none changes the claim a previous one created, or the upgrade would always fail."""
    claims: dict[tuple[str, str], dict] = {}
    current: dict[tuple[str, str], dict] = {}
    problems = []
    for page in DOC_PAGES:
        for command in commands_in(page):
            if command.fails or command.action == "rollback":
                continue
            key = (command.release, command.namespace)
            current[key] = deep_merge(current.get(key, {}) if command.reuse else {}, command.values)
            found = [o for o in render_objects(current[key], *key) if o["kind"] == "PersistentVolumeClaim"]
            if not found:  # a release with a store (docs/beyond-one-machine.md) has no claim to change
                continue
            (claim,) = found
            if key in claims and (changes := claim_changes(claims[key], claim)):
                problems.append(f"{page.name}: {command.line}: {changes}")
            claims.setdefault(key, claim)
    assert ("mlsteps", "mlsteps-prod") in claims, "the docs install prod as its own release and namespace"
    assert not problems, problems
    dev, prod = (chart_objects(values_file(ENVIRONMENTS[name])) for name in ("dev", "prod"))
    (dev_claim,) = [o for o in dev if o["kind"] == "PersistentVolumeClaim"]
    (prod_claim,) = [o for o in prod if o["kind"] == "PersistentVolumeClaim"]
    assert claim_changes(dev_claim, prod_claim), "the check must see what an upgrade to prod would change"


def test_revision_numbers_follow_the_pages_own_commands():
    """Install, the values-dev upgrade, the schedule upgrade: what `helm status`, `helm test`, `helm history`
    and the rollback say must match the revisions those commands make, and the rollback must undo only the
    last upgrade (an older revision would also drop the values-dev settings)."""
    text = GUIDE.read_text().split("\n## Quick start\n", 1)[1].split("\n## Uninstall\n")[0]  # Purpose only shows it
    revisions: list[dict] = []  # of release mlsteps in namespace default, the values each revision has
    problems = []
    commands = iter(
        c
        for c in commands_in(GUIDE, start_at="Quick start", stop_at="Uninstall")
        if c.release == "mlsteps" and c.namespace == "default"
    )
    for line in text.splitlines():
        stripped = line.strip()
        mine = parse(stripped) if re.match(r"^helm (install|upgrade|rollback) ", stripped) else None
        if mine and (mine.release, mine.namespace) == ("mlsteps", "default"):
            command = next(commands)  # the same command, knowing whether the page shows it failing
            if command.fails:
                continue
            if command.action == "rollback":
                if command.target != len(revisions) - 1:
                    problems.append(f"{stripped}: undoes more than the last upgrade (now at {len(revisions)})")
                revisions.append(revisions[command.target - 1])
            else:
                revisions.append(deep_merge(revisions[-1] if command.reuse and revisions else {}, command.values))
        for shown in re.findall(r"REVISION: (\d+)", line):
            if int(shown) != len(revisions):
                problems.append(f"{stripped!r} after {len(revisions)} revisions")
        for shown in re.findall(r"new revision, (\d+)", line):
            if int(shown) != len(revisions) + 1:
                problems.append(f"{stripped!r}: the rollback will be revision {len(revisions) + 1}")
    history = [int(n) for n in re.findall(r"^(\d+)\s+(?:superseded|deployed)\s", text, re.M)]
    assert history == list(range(1, len(history) + 1)) and history, history
    assert not problems, problems
    assert len(history) == 3, "the history shown is the one after the schedule upgrade: install, values-dev, schedule"
    assert revisions[-1]["logLevel"] == "DEBUG", "the rollback keeps the values-dev settings"


def test_the_signing_secret_the_docs_name_is_the_one_the_chart_reads():
    """The reference is optional: a Secret under another name is ignored and models stay unsigned. Each
    `kubectl create secret` and each `...-signing` name in the docs is one the objects really read."""
    states = release_states([c for page in DOC_PAGES for c in commands_in(page)])
    read = set()
    for (release, namespace), values in [(("mlsteps", "default"), {}), *states]:
        objects = render_objects(values, release, namespace) + level3_objects()
        objects += load_objects([REPO_ROOT / "src/kubectl_store/store.yaml"])  # level 3's store overlay
        read |= {
            e["valueFrom"]["secretKeyRef"]["name"]
            for o in objects
            if o["kind"] in ("CronJob", "Deployment", "StatefulSet")
            for c in containers(o)
            for e in c.get("env", [])
            if "secretKeyRef" in e.get("valueFrom", {})
        }
    assert "wine-mlsteps-signing" in read and "mlsteps-signing" in read
    text = "\n".join(page.read_text() for page in DOC_PAGES if page.suffix == ".md")
    created = set(re.findall(r"kubectl create secret generic (\S+)", text))
    named = set(re.findall(r"`([a-z0-9-]*-signing)`", text))
    assert created and created <= read, created - read
    assert named <= read, named - read


def test_the_helm_version_the_docs_ask_for_has_what_the_docs_use():
    """`helm template`/`lint` check the chart's kubeVersion (>=1.27) against the Kubernetes built into Helm,
    1.27 from Helm 3.12; `--set-json` came in 3.10. On Helm 4, `--atomic` is deprecated: the docs give
    its new name wherever they use it."""
    needs = {"kubeVersion >=1.27": (3, 12)}
    chart = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())
    assert chart["kubeVersion"].startswith(">=1.27")
    pages = [GUIDE, CHART_DIR / "README.md"]
    if any("--set-json" in page.read_text() for page in pages):
        needs["--set-json"] = (3, 10)
    for page in pages:
        text = page.read_text()
        stated = [tuple(map(int, m)) for m in re.findall(r"Helm (\d+)\.(\d+)\+? (?:or later|or 4)", text)]
        assert stated and min(stated) >= max(needs.values()), (page.name, stated, needs)
        if "--atomic" in text:
            assert "--rollback-on-failure" in text, f"{page.name}: say Helm 4's name for --atomic"


def test_loadbalancer_says_it_needs_minikube_tunnel_beside_the_value():
    (line,) = [
        line
        for line in (CHART_DIR / "values.yaml").read_text().splitlines()
        if line.strip().startswith("type: NodePort")
    ]
    assert "LoadBalancer" in line and "minikube tunnel" in line and "--wait" in line
    assert "minikube tunnel" in GUIDE.read_text().split("service.type=LoadBalancer", 1)[1][:400]


def test_the_kind_job_runs_prod_as_its_own_release_with_what_kind_can_offer():
    """ci.yml's kind job is the first real cluster these fixes meet: its prod-like install renders, is a
    release of its own namespace, binds on kind (ReadWriteOnce, one pod, the loaded image), keeps prod's
    PodDisruptionBudget and spread, and is tested by `helm test` in that namespace."""
    workflow = yaml.safe_load((REPO_ROOT / ".github" / "workflows" / "ci.yml").read_text())
    script = "\n".join(step.get("run", "") for step in workflow["jobs"]["kind"]["steps"])
    (line,) = [line.strip() for line in script.splitlines() if "values-prod.yaml" in line]
    command = parse(line)
    assert command.namespace not in ("default", "") and command.release == "mlsteps"
    objects = by_key(render_objects(command.values, command.release, command.namespace))
    assert objects[("PersistentVolumeClaim", "mlsteps-data")]["spec"]["accessModes"] == ["ReadWriteOnce"]
    serve = objects[("Deployment", "mlsteps-serve")]
    assert serve["spec"]["replicas"] == 1 and ("HorizontalPodAutoscaler", "mlsteps-serve") not in objects
    assert {c["image"] for c in containers(serve)} == {"mlsteps:0.1.0"}  # what `kind load` put on the node
    assert objects[("PodDisruptionBudget", "mlsteps-serve")]["spec"]["maxUnavailable"] == 1
    assert pod_template(serve)["spec"]["topologySpreadConstraints"]
    assert not init_requests_above_the_pods(pod_template(serve)["spec"])
    assert f"helm test mlsteps --namespace {command.namespace}" in script


def test_helm_fetcher_is_valid_bash_and_commits_no_address():
    script = REPO_ROOT / "scripts" / "runtimes" / "helm.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text()
    assert not re.search(r"\b\d{1,3}(\.\d{1,3}){3}\b", text), "no IP addresses in committed scripts"
    assert "helm version" in text, "it must reuse a helm that already works"


@pytest.mark.e2e
def test_the_chart_values_run_the_learners_own_code_as_pods():
    """--set dataset=python:... --set pipeline=...: the chart passes them on, and the example answers."""
    need(command_works("podman", "info"), "podman is missing or broken (bash scripts/runtimes/podman.sh)")
    values = {"dataset": LEARNERS_CODE["MLSTEPS_DATASET"], "pipeline": LEARNERS_CODE["MLSTEPS_PIPELINE"]}
    stack = PodmanStack(objects_of(render(values)), image=podman_image(), host_port=free_port(), project="mlsteps-l4my")
    with stack:
        check_learners_code_answers(serve_bootstraps_itself(stack, {}))
    assert not leftovers(stack.prefix), "the harness left pods or volumes"


def test_the_optional_service_monitor_and_prometheus_rule_carry_the_one_rules_file():
    """monitoring.*: a ServiceMonitor that selects serve's Service and port, and the alert rules of every level
    (src/monitoring/alert-rules.yaml, through the chart's files/ link) as a PrometheusRule."""
    on = {"monitoring": {"serviceMonitor": {"enabled": True, "labels": {"release": "kps"}}}}
    on["monitoring"]["prometheusRule"] = {"enabled": True, "labels": {"release": "kps"}}
    objects = by_key(chart_objects(on))
    monitor = objects[("ServiceMonitor", "mlsteps-serve")]
    service = objects[("Service", "mlsteps-serve")]
    assert monitor["metadata"]["labels"]["release"] == "kps"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert [e["port"] for e in monitor["spec"]["endpoints"]] == [p["name"] for p in service["spec"]["ports"]]
    rules = objects[("PrometheusRule", "mlsteps-alerts")]["spec"]
    assert rules == yaml.safe_load((REPO_ROOT / "src/monitoring/alert-rules.yaml").read_text())
    assert (CHART_DIR / "files/alert-rules.yaml").resolve() == (REPO_ROOT / "src/monitoring/alert-rules.yaml")
    default = by_key(chart_objects())
    assert not [key for key in default if key[0] in ("ServiceMonitor", "PrometheusRule")]
    annotations = pod_template(default[("Deployment", "mlsteps-serve")])["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true" and annotations["prometheus.io/port"] == "8000"
