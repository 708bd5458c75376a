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
from mlsteps.config import Settings, env_name

COMPOSE = yaml.safe_load((REPO_ROOT / "src/docker_compose/compose.yaml").read_text())
# The steps' services; those under a profile (Prometheus: "monitoring") run another image.
STEPS = {name: service for name, service in COMPOSE["services"].items() if "profiles" not in service}
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
    assert {service["image"] for service in STEPS.values()} == {image}
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
    for service in STEPS.values():
        assert [volume.removesuffix(":ro") for volume in service["volumes"]] == ["mlsteps-data:/data"]
    for container in containers():
        assert [m["mountPath"] for m in container["volumeMounts"] if m["name"] == "data"] == ["/data"]
        assert {"name": "MLSTEPS_DATA_DIR", "value": "/data"} in container["env"]
    for obj in WORKLOADS:
        assert pod_template_of(obj)["spec"]["securityContext"]["runAsUser"] == 10001


def test_compose_intervals_are_level_1s():
    launcher = load_launcher()
    for service, field in (("load-data", "load_data_every"), ("train", "train_every"), ("monitor", "monitor_every")):
        command = COMPOSE["services"][service]["command"]
        default = float(re.search(r":-([\d.]+)\}", command[command.index("--every") + 1]).group(1))
        assert default == launcher.Level1Settings.model_fields[field].default, service


def test_every_step_mounts_the_volume_read_write_as_serve_writes_its_prediction_log():
    for name, service in STEPS.items():
        assert not service["volumes"][0].endswith(":ro"), name
    for container in containers():
        data = next(m for m in container["volumeMounts"] if m["name"] == "data")
        assert not data.get("readOnly", False), container["name"]


def test_the_signing_key_reaches_the_steps_that_sign_or_verify_and_no_other():
    for name, service in STEPS.items():
        assert ("MLSTEPS_SIGNING_KEY" in service["environment"]) == (name in ("train", "serve")), name
    for container in containers():
        key = [e for e in container["env"] if e["name"] == "MLSTEPS_SIGNING_KEY"]
        assert bool(key) == (container["name"] in ("bootstrap", "train", "serve")), container["name"]
        if key:  # from a Secret (never the volume, never the image), optional: without one, models are unsigned
            assert key[0]["valueFrom"]["secretKeyRef"] == {"name": "mlsteps-signing", "key": "key", "optional": True}


# -- every setting reaches every container level, or says why not --------------------------------

# Settings that are deliberately not chart values (nor keys of level 3's ConfigMap), each with the reason.
NOT_CHART_VALUES = {
    "data_dir": "fixed by the claim's mount path, /data, in each container's env",
    "host": "fixed: serve listens on the pod's address, 0.0.0.0, in serve's env",
    "port": "fixed: the container port 8000 the probes and the Service name",
    "load_data_every": "levels 1 and 2 only: at levels 3 and 4 the CronJob (loadData.schedule) is the loop",
    "train_every": "levels 1 and 2 only: at levels 3 and 4 the CronJob (train.schedule) is the loop",
    "load_data_cron": "levels 1 and 2 only: at levels 3 and 4 the CronJob (loadData.schedule) is the schedule",
    "train_cron": "levels 1 and 2 only: at levels 3 and 4 the CronJob (train.schedule) is the schedule",
    "monitor_every": "levels 1 and 2 only: at levels 3 and 4 the CronJob (monitor.schedule) is the loop",
    "monitor_cron": "levels 1 and 2 only: at levels 3 and 4 the CronJob (monitor.schedule) is the schedule",
    "signing_key": "a secret: from the Secret <fullname>-signing, never a value stored in the release",
    "api_key": "a secret: from the Secret serve.apiKey names (or <fullname>-api-key), never a value in the release",
}
# A value for each chart-valued setting that differs from its default and that the steps accept.
NON_DEFAULTS = {
    "dataset": "wine",
    "target_column": "label",
    "task": "classification",
    "pipeline": "forest",
    "param_grid": '{"model__C": [1, 2]}',
    "k_range": "2-5",
    "samples_per_snapshot": 1_000_000,
    "seed": 7,
    "keep_snapshots": 9,
    "keep_models": 8,
    "promotion_tolerance": 0.125,
    "reload_seconds": 2.5,
    "max_batch": 100,
    "max_body_bytes": 4096,
    "access_log": False,
    "log_level": "DEBUG",
    "speed_tricks": False,
    "prediction_log": False,
    "log_queue_size": 50,
    "log_keep_hours": 2.5,
    "log_keep_megabytes": 12.5,
    "monitor_window_rows": 1234,
    "monitor_min_rows": 77,
    "drift_psi": 0.35,
    "drift_p_value": 0.05,
    "max_quality_drop": 0.25,
    "store": "s3://a-bucket/some/prefix",
    "store_timeout_seconds": 2.5,
    "model_name": "iris-classifier",
    "runtime": "onnx",
}


def chart_key(field: str) -> str:
    """The chart's value for a setting: its field name in camelCase (k_range -> kRange)."""
    first, *rest = field.split("_")
    return first + "".join(word.capitalize() for word in rest)


def chart_valued() -> list[str]:
    return [field for field in Settings.model_fields if field not in NOT_CHART_VALUES]


def chart_settings(values: dict) -> dict[str, str]:
    """The data of the settings ConfigMap the chart renders with `values`."""
    import helm_python

    with helm_python.Chart.load(REPO_ROOT / "src/helm_chart") as chart:
        rendered = chart.render(values, name="mlsteps", namespace="default")
    (configmap,) = [o for o in yaml.safe_load_all(rendered["mlsteps/templates/configmap.yaml"]) if o]
    return configmap["data"]


def test_every_setting_has_a_chart_value_or_a_reason_not_to():
    """A new field of Settings fails here until the chart has a value for it (values.yaml, its schema, the
    ConfigMap) or it is listed above with the reason: "the chart has a value for each setting" stays true."""
    import helm_python

    values = helm_python.values_from_yaml((REPO_ROOT / "src/helm_chart/values.yaml").read_text())
    assert set(NOT_CHART_VALUES) <= set(Settings.model_fields), "a reason for a setting that is gone"
    missing = [f"{field} (as {chart_key(field)})" for field in chart_valued() if chart_key(field) not in values]
    assert not missing, f"settings with no chart value and no reason in NOT_CHART_VALUES: {missing}"
    assert not [field for field in NOT_CHART_VALUES if chart_key(field) in values]
    assert set(NON_DEFAULTS) == set(chart_valued()), "give each chart-valued setting a test value"


def test_each_chart_value_reaches_the_steps_as_its_setting(monkeypatch, settings):
    """Every chart value, changed from its default, lands in the settings ConfigMap under its MLSTEPS_*
    name, and the steps read back exactly that value (numbers stay numbers: Helm reads them as floats)."""
    data = chart_settings({chart_key(field): value for field, value in NON_DEFAULTS.items()})
    assert set(data) == {env_name(field) for field in chart_valued()}
    for name, value in data.items():
        monkeypatch.setenv(name, value)
    read = Settings()
    for field, value in NON_DEFAULTS.items():
        assert getattr(read, field) == value, field
    unset = [name for name, value in chart_settings({}).items() if value == ""]  # the package's default applies
    assert unset == ["MLSTEPS_PIPELINE", "MLSTEPS_PARAM_GRID", "MLSTEPS_MAX_BODY_BYTES", "MLSTEPS_STORE"]


def test_levels_2_and_3_pass_the_same_settings_through(monkeypatch, settings):
    """Level 3's ConfigMap holds every chart-valued setting, at the package's default (the chart renders the
    same object, test_level4_helm), and compose passes each one from the shell to the services."""
    (configmap,) = [o for o in MANIFESTS if o["kind"] == "ConfigMap"]
    assert set(configmap["data"]) == {env_name(field) for field in chart_valued()}
    for name, value in configmap["data"].items():
        monkeypatch.setenv(name, value)
    read = Settings()
    for field in chart_valued():
        assert getattr(read, field) == Settings.model_fields[field].default, field
    passed = {name for service in STEPS.values() for name in service["environment"]}
    missing = sorted(env_name(field) for field in chart_valued() if env_name(field) not in passed)
    assert not missing, f"compose.yaml does not pass these from the shell: {missing}"
