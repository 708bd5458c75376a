"""The values every level must agree on, each defined once per level: port, data path, image, user, intervals.

Levels 3 and 4 are compared object by object in test_level4_helm.py, and level 3 with level 2 in
test_level3_kubectl.py; this file ties them to the package and to level 1.
"""

import re
import tomllib

import yaml

from helpers import REPO_ROOT, load_launcher
from kube_harness import containers as containers_of
from kube_harness import level3_objects
from kube_harness import pod_template as pod_template_of
from mlsteps.config import Settings

COMPOSE = yaml.safe_load((REPO_ROOT / "src/docker_compose/compose.yaml").read_text())
DOCKERFILE = (REPO_ROOT / "src/docker_compose/Dockerfile").read_text()
MANIFESTS = level3_objects()
WORKLOADS = [obj for obj in MANIFESTS if obj["kind"] in ("Job", "CronJob", "Deployment")]
CHART = yaml.safe_load((REPO_ROOT / "src/helm_chart/Chart.yaml").read_text())
VERSION = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]


def containers():
    """Every container of level 3, serve's bootstrap init container included."""
    for obj in WORKLOADS:
        yield from containers_of(obj)


def test_one_image_tag_is_the_package_version_everywhere():
    image = f"mlsteps:{VERSION}"
    assert {service["image"] for service in COMPOSE["services"].values()} == {image}
    assert {container["image"] for container in containers()} == {image}
    assert CHART["appVersion"] == VERSION  # the chart's default tag


def test_one_port():
    port = Settings().port
    assert f"EXPOSE {port}" in DOCKERFILE
    assert COMPOSE["services"]["serve"]["ports"] == [f"127.0.0.1:${{MLSTEPS_PORT:-{port}}}:{port}"]
    serve = next(c for c in containers() if c["command"][-1] == "serve")
    assert serve["ports"][0]["containerPort"] == port
    service = next(o for o in MANIFESTS if o["kind"] == "Service")
    assert service["spec"]["ports"][0]["port"] == port


def test_one_data_path_and_one_user():
    assert re.search(r"MLSTEPS_DATA_DIR=/data\b", DOCKERFILE) and "USER 10001:10001" in DOCKERFILE
    for service in COMPOSE["services"].values():
        assert [volume.removesuffix(":ro") for volume in service["volumes"]] == ["mlsteps-data:/data"]
    for container in containers():
        assert [m["mountPath"] for m in container["volumeMounts"] if m["name"] == "data"] == ["/data"]
        assert {"name": "MLSTEPS_DATA_DIR", "value": "/data"} in container["env"]
    for obj in WORKLOADS:
        assert pod_template_of(obj)["spec"]["securityContext"]["runAsUser"] == 10001


def test_compose_intervals_are_level_1s():
    launcher = load_launcher()
    for service, field in (("load-data", "load_data_every"), ("train", "train_every")):
        command = COMPOSE["services"][service]["command"]
        default = float(re.search(r":-([\d.]+)\}", command[command.index("--every") + 1]).group(1))
        assert default == launcher.Level1Settings.model_fields[field].default, service


def test_serve_mounts_the_volume_read_only_and_only_serve_does():
    for name, service in COMPOSE["services"].items():
        assert service["volumes"][0].endswith(":ro") == (name == "serve"), name
    for container in containers():
        data = next(m for m in container["volumeMounts"] if m["name"] == "data")
        # serve only reads; its bootstrap init container may publish the first model
        assert data.get("readOnly", False) == (container["name"] == "serve"), container["name"]


def test_the_signing_key_reaches_the_steps_that_sign_or_verify_and_no_other():
    for name, service in COMPOSE["services"].items():
        assert ("MLSTEPS_SIGNING_KEY" in service["environment"]) == (name in ("train", "serve")), name
    for container in containers():
        key = [e for e in container["env"] if e["name"] == "MLSTEPS_SIGNING_KEY"]
        assert bool(key) == (container["name"] in ("bootstrap", "train", "serve")), container["name"]
        if key:  # from a Secret (never the volume, never the image), optional: without one, models are unsigned
            assert key[0]["valueFrom"]["secretKeyRef"] == {"name": "mlsteps-signing", "key": "key", "optional": True}
