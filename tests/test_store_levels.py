"""The store at levels 2-4: with MLSTEPS_STORE, no step shares a volume or a claim (serve has none at all, so
it scales out across nodes), every step gets the endpoint and the Secret's keys, and the optional SeaweedFS
runs non-root with its own claim. Rendered and read here; docs/beyond-one-machine.md shows the commands."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from helm_commands import render_objects
from helpers import REPO_ROOT, need
from kube_harness import (
    PodmanStack,
    checkov_scan,
    containers,
    newest_minor,
    pod_template,
    store_secret,
    strict_schema_errors,
    yaml_objects,
)

STEPS = ("load-data", "train", "serve", "monitor", "bootstrap", "import-model")


def workloads(objects):
    return [o for o in objects if o["kind"] in ("CronJob", "Deployment", "Job") and "metadata" in o]


def step_containers(objects):
    for obj in workloads(objects):
        spec = pod_template(obj)["spec"]
        yield obj, spec, spec.get("initContainers", []) + spec["containers"]


def claims_mounted(objects) -> list[str]:
    return [
        f"{obj['metadata']['name']}: {volume['persistentVolumeClaim']['claimName']}"
        for obj, spec, _ in step_containers(objects)
        for volume in spec.get("volumes", [])
        if "persistentVolumeClaim" in volume
    ]


def check_store_wiring(objects, endpoint: str | None, secret: str) -> None:
    assert not [o for o in objects if o["kind"] == "PersistentVolumeClaim"], "a shared claim is left"
    assert claims_mounted(objects) == []
    for obj, _, those in step_containers(objects):
        for container in those:
            if container["name"] not in STEPS:
                continue
            assert {"secretRef": {"name": secret}} in container["envFrom"], (obj["metadata"]["name"], container)
            env = {e["name"]: e.get("value") for e in container.get("env", [])}
            assert env.get("AWS_ENDPOINT_URL") == endpoint, (obj["metadata"]["name"], env)


def check_store_pod(objects) -> None:
    (store,) = [o for o in objects if o["kind"] == "StatefulSet"]
    spec = pod_template(store)["spec"]
    assert spec["securityContext"]["runAsNonRoot"] and spec["securityContext"]["runAsUser"] == 10002
    (container,) = containers(store)
    assert container["securityContext"]["readOnlyRootFilesystem"] and container["resources"]["limits"]
    assert {"startupProbe", "readinessProbe", "livenessProbe"} <= set(container)
    (claim,) = store["spec"]["volumeClaimTemplates"]  # its own claim, one pod's: ReadWriteOnce
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert [o for o in objects if o["kind"] == "Service" and o["metadata"]["name"] == store["metadata"]["name"]]


def test_the_chart_with_the_in_cluster_store_has_no_shared_claim_and_two_serve_replicas():
    objects = render_objects(
        {"store": "s3://mlsteps/level4", "seaweedfs": {"enabled": True}, "serve": {"replicas": 2}}, "mlsteps"
    )
    check_store_wiring(objects, "http://mlsteps-store:8333", "mlsteps-store")
    check_store_pod(objects)
    (serve,) = [o for o in objects if o["kind"] == "Deployment"]
    assert serve["spec"]["replicas"] == 2
    (settings,) = [o for o in objects if o["kind"] == "ConfigMap"]
    assert settings["data"]["MLSTEPS_STORE"] == "s3://mlsteps/level4"
    assert strict_schema_errors(objects, newest_minor()) == []


def test_the_chart_with_a_cloud_bucket_uses_its_endpoint_and_an_existing_secret():
    values = {
        "store": "s3://team-models/mlsteps",
        "storeAccess": {"endpoint": "https://minio.example.org", "existingSecret": "team-s3"},
    }
    objects = render_objects(values, "mlsteps")
    check_store_wiring(objects, "https://minio.example.org", "team-s3")
    assert not [o for o in objects if o["kind"] == "StatefulSet"]
    no_endpoint = render_objects({"store": "s3://team-models/mlsteps"}, "mlsteps")  # AWS S3: the SDK knows it
    check_store_wiring(no_endpoint, None, "mlsteps-store")


def test_without_a_store_the_chart_keeps_its_claim():
    objects = render_objects({}, "mlsteps")
    assert [o["metadata"]["name"] for o in objects if o["kind"] == "PersistentVolumeClaim"] == ["mlsteps-data"]
    assert not [o for o in objects if o["kind"] == "StatefulSet"]


def test_compose_store_file_shares_no_volume_and_gives_the_store_its_own():
    compose = yaml.safe_load((REPO_ROOT / "src/docker_compose/compose.store.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"store", "load-data", "train", "serve", "monitor"}
    assert [s for name, s in services.items() if name != "store" and s.get("volumes")] == []
    assert services["store"]["volumes"] == ["mlsteps-store:/store"] and set(compose["volumes"]) == {"mlsteps-store"}
    base = yaml.safe_load((REPO_ROOT / "src/docker_compose/compose.yaml").read_text())["services"]
    for name in ("load-data", "train", "serve", "monitor"):  # the same settings reach the steps as with compose.yaml
        assert set(base[name]["environment"]) - {"MLSTEPS_DATA_DIR"} <= set(services[name]["environment"]), name
        assert services[name]["environment"]["MLSTEPS_STORE"].endswith("s3://mlsteps/level2}")
        assert services[name]["read_only"] and services[name]["cap_drop"] == ["ALL"]


@pytest.mark.e2e
def test_the_level3_overlay_has_the_store_and_no_claim():
    need(shutil.which("kubectl") is not None, "kubectl is not installed (scripts/runtimes/install.sh)")
    rendered = subprocess.run(
        ["kubectl", "kustomize", str(REPO_ROOT / "src/kubectl_store")], capture_output=True, text=True, check=True
    ).stdout
    objects = yaml_objects(rendered)
    check_store_wiring(objects, None, "mlsteps-store")  # the endpoint comes from the settings ConfigMap here
    check_store_pod(objects)
    (settings,) = [o for o in objects if o["kind"] == "ConfigMap"]
    assert settings["data"]["AWS_ENDPOINT_URL"] == "http://mlsteps-store:8333"
    assert settings["data"]["MLSTEPS_STORE"] == "s3://mlsteps/level3"
    assert strict_schema_errors(objects, newest_minor()) == []


@pytest.mark.e2e
def test_policy_scan_of_the_store_renders_finds_nothing_unexplained(tmp_path):
    """checkov on the chart with the in-cluster store and on level 3's store overlay (seconds to start)."""
    need(shutil.which("kubectl") is not None, "kubectl is not installed (scripts/runtimes/install.sh)")
    chart = render_objects({"store": "s3://mlsteps/level4", "seaweedfs": {"enabled": True}}, "mlsteps")
    overlay = yaml_objects(
        subprocess.run(
            ["kubectl", "kustomize", str(REPO_ROOT / "src/kubectl_store")], capture_output=True, text=True, check=True
        ).stdout
    )
    for name, objects in (("chart", chart), ("overlay", overlay)):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "objects.yaml").write_text(yaml.safe_dump_all(objects, sort_keys=False))
        checkov_scan(folder, objects)


def test_level3_store_objects_are_the_charts():
    """src/kubectl_store/store.yaml is the chart's StatefulSet and Service, written out (one source of truth)."""
    from kube_harness import load_objects

    chart = {
        o["kind"]: o
        for o in render_objects({"store": "s3://mlsteps/level3", "seaweedfs": {"enabled": True}}, "mlsteps")
        if o["kind"] in ("StatefulSet", "Service") and o["metadata"]["name"] == "mlsteps-store"
    }
    level3 = {o["kind"]: o for o in load_objects([REPO_ROOT / "src/kubectl_store/store.yaml"])}
    assert set(level3) == set(chart) == {"StatefulSet", "Service"}
    helm_only = ("helm.sh/chart", "app.kubernetes.io/managed-by", "app.kubernetes.io/version")
    for kind in chart:
        labels = chart[kind]["spec"].get("template", {}).get("metadata", {}).get("labels", {})
        for name in helm_only:  # Helm's own labels: level 3 has no chart version to name
            labels.pop(name, None)
        assert level3[kind]["spec"] == chart[kind]["spec"], kind


@pytest.mark.e2e
def test_compose_store_stack_on_the_real_engine():
    """Level 2 with compose.store.yaml: predictions, no volume on any step, the monitor's report shown by serve,
    serve keeping on while the store container is killed, and the next model once it is started again."""
    import subprocess as sp

    from helpers import http_json, need_compose, wait_for
    from test_level2_compose import Stack

    stack = Stack(need_compose())
    stack.argv[stack.argv.index("-f") + 1] = str(REPO_ROOT / "src/docker_compose/compose.store.yaml")
    try:
        stack.run("up", "--build", "--detach", timeout=1200)
        stack.wait_healthy()
        first = stack.predict()
        assert first and first["predictions"] == ["setosa"]
        for service in ("load-data", "train", "serve", "monitor"):
            assert stack.inspect(service, "{{len .Mounts}}") == "0", f"{service} mounts a volume"
        # The monitor's report, written to the bucket, reaches serve with no volume between them.
        wait_for("a report in /monitor.json", lambda: http_json(f"{stack.base_url}/monitor.json")[0] == 200, 120)
        assert stack.inspect("store", "{{.Config.User}}") == "10002:10002"
        sp.run(["docker", "kill", stack.container("store")], check=True, capture_output=True, timeout=60)
        wait_for("serve to notice", lambda: "mlsteps_store_up 0.0" in metrics(stack.base_url), timeout=60)
        down = stack.predict()
        assert down and http_json(f"{stack.base_url}/readyz")[0] == 200
        sp.run(["docker", "start", stack.container("store")], check=True, capture_output=True, timeout=60)
        wait_for("a newer model after the store is back", lambda: stack.model_version() > down["model_version"], 120)
    except BaseException:
        print(f"--- last lines of the stack's logs ---\n{stack.logs()}")
        raise
    finally:
        stack.down()


def metrics(base_url: str) -> str:
    import urllib.request

    with urllib.request.urlopen(f"{base_url}/metrics", timeout=5) as answer:
        return answer.read().decode()


def test_the_harness_reaches_the_store_by_its_service_and_the_secret_by_its_name():
    """What the Podman harness plays for the e2e tests, checked on the chart's objects without Podman: the
    store's Service selects the store pod on the port it listens on (so the pod gets the Service's name,
    which AWS_ENDPOINT_URL uses), serve's Service its pods, no Service a CronJob's; the store's claim
    template becomes its volume; every reference to the store's Secret follows its Podman copy."""
    values = {"store": "s3://mlsteps/level4", "seaweedfs": {"enabled": True}, "serve": {"replicas": 2}}
    objects = render_objects(values, "mlsteps") + [store_secret("mlsteps-store")]
    stack = PodmanStack(objects, image="mlsteps:0.1.0", host_port=8000)
    store = stack._pod(stack.find("StatefulSet", "store"), "store-0", restart_policy=None)
    serve = stack._pod(stack.find("Deployment", "serve"), "serve", restart_policy=None)
    train = stack._pod(stack.find("CronJob", "train"), "train", restart_policy="Never")
    assert stack._network(store) == ["--network", f"{stack.network}:alias=mlsteps-store"]
    assert stack._network(serve) == ["--network", f"{stack.network}:alias=mlsteps-serve"]
    assert stack._network(train) == ["--network", stack.network]
    (endpoint,) = {e["value"] for e in serve["spec"]["containers"][0]["env"] if e["name"] == "AWS_ENDPOINT_URL"}
    assert endpoint == "http://mlsteps-store:8333"  # the alias, on the port the store pod listens on
    assert stack.claims == {"store-mlsteps-store-0": stack.prefix + "store-mlsteps-store-0"}
    copy = stack.secrets["mlsteps-store"]
    for pod in (store, serve, train):
        for container in pod["spec"].get("initContainers", []) + pod["spec"]["containers"]:
            refs = [s["secretRef"]["name"] for s in container.get("envFrom", []) if "secretRef" in s]
            refs += [
                e["valueFrom"]["secretKeyRef"]["name"]
                for e in container.get("env", [])
                if "valueFrom" in e and "secretKeyRef" in e["valueFrom"]
            ]
            assert copy in refs and "mlsteps-store" not in refs, (container["name"], refs)
