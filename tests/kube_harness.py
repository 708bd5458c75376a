"""Kubernetes objects for the level 3 and 4 tests: loading, strict schemas, the policy scan, and
real pods on Podman, which stand in for a cluster in the e2e tests.

No cluster can run on the CI machine, but `podman kube play` runs the pods a manifest describes, on the
real image, with the real volume, security context and resources. It does not do everything a cluster
does, so this harness bridges the gaps, always in its own copies of the objects (never in the files):

- every name gets a prefix `<project>-<run id>-`, so level 3, level 4 and two runs of the same test
  never touch each other's pods or volumes;
- every PersistentVolumeClaim becomes a Podman volume `<prefix><claim>` and every `claimName`
  follows, so the pods that mount the same claim share one volume;
- Podman ignores StatefulSets: each one's pod template becomes one long-running pod
  `<prefix><name>-0` (replicas: 1), played on entry, and its volumeClaimTemplates become volumes
  `<prefix><template>-<name>-0`, as the StatefulSet controller names their claims; the harness polls
  its readiness probe (httpGet, made with python3 inside the container, where a kubelet calls the
  pod's address) before any step runs, as `kubectl rollout status` would be waited for;
- Podman ignores Services, so each stack gets its own Podman network `<prefix>net` (a namespace's
  network: aardvark-dns resolves names there) and every pod a Service selects gets the Service's
  name as a network alias, so other pods reach `http://<service>:<port>` by DNS as in a cluster
  (two serve replicas share one name, as behind a ClusterIP); an alias cannot map ports, so a Service
  whose port differs from its target's gets none (none of the project's does);
- Podman 4.3 stores a Secret object in a form its own `secretKeyRef` lookup cannot read: each Secret
  becomes a Podman secret `<prefix><name>` (a JSON map of key to base64 value, which it reads for
  `secretKeyRef` and `envFrom.secretRef`) and every reference follows; Secrets the objects do not
  hold (optional ones) keep their names. The test makes the Secret, as `kubectl create secret` would;
- every emptyDir is renamed per pod (Podman 4.3 turns an emptyDir into a volume named after it, which
  pods would otherwise share, unlike on a cluster);
- Jobs and CronJobs are ignored by Podman: their pod template becomes a one-shot Pod
  (restartPolicy Never), played when the test asks, as the Job controller would on schedule;
- the serve Deployment's pod template becomes one Pod per replica the test starts, init containers
  included (Podman runs them first, in order, as a kubelet does), with restartPolicy OnFailure
  (Podman 4.3 applies the pod's Always to init containers too and reruns a finished one, here 9 times
  and 20 s, before serve starts; a kubelet runs it once), and its container port gets
  `hostPort` with `hostIP: 127.0.0.1`, standing in for the NodePort Service from this machine;
- probes are dropped (Podman turns them into healthchecks that need curl in the image): the harness
  polls serve's /readyz and the StatefulSets' probes itself instead, as a kubelet would;
- every container runs `image`, the tag the test built, or for another image the tag `images` maps
  it to (the store's); ConfigMaps travel with each pod so that `envFrom`/`valueFrom` resolve, with
  the test's `env` overrides written into them too (Podman 4.3 lets envFrom win over env, Kubernetes
  the other way round). Other kinds (ServiceAccount, Ingress, ...) are skipped.

On exit the pods, volumes, secrets and network go (`leftovers(prefix)` finds any that did not).

Used by level 3 (objects from src/kubectl) and level 4 (objects from `helm template`):

    with PodmanStack(objects, image="mlsteps:0.1.0", host_port=free_port(), project="mlsteps-l3") as stack:
        base_url = stack.start_serve()  # its init container trains the first model
        assert stack.run_job("train").exit_code == 0
"""

from __future__ import annotations

import base64
import copy
import functools
import json
import re
import secrets
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from unittest import mock

import httpx
import yaml

from helpers import REPO_ROOT, SAMPLE, VENV_BIN, free_port

COMPONENT = "app.kubernetes.io/component"
JOB_KINDS = ("Job", "CronJob")


@dataclass(frozen=True)
class JobRun:
    """How one run of a Job's pod template ended: its exit code, its logs, how long it took, and the
    labels the pod carried (from the template: what `kubectl get pods -l ...` would select on)."""

    pod: str
    exit_code: int
    logs: str
    seconds: float
    labels: dict[str, str]


def yaml_objects(text: str) -> list[dict]:
    """The non-empty documents of a YAML text, by the safe loader (on libyaml where PyYAML has it: the
    same objects, several times faster, and the tests parse many renders)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return [doc for doc in yaml.load_all(text, Loader=loader) if doc]


def load_objects(paths: Iterable[Path | str]) -> list[dict]:
    """Parse Kubernetes YAML files (several documents each allowed) into a list of objects."""
    return [obj for path in paths for obj in yaml_objects(Path(path).read_text())]


def level3_objects() -> list[dict]:
    """Level 3's objects, file by file as `kubectl apply -k src/kubectl` applies them."""
    kubectl_dir = REPO_ROOT / "src" / "kubectl"
    resources = yaml.safe_load((kubectl_dir / "kustomization.yaml").read_text())["resources"]
    return load_objects(kubectl_dir / name for name in resources)


def pod_template(obj: dict) -> dict:
    """The pod template of a Deployment, Job or CronJob (metadata + spec)."""
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]
    if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        return obj["spec"]["template"]
    raise ValueError(f"{obj['kind']} {obj['metadata']['name']} has no pod template")


def statefulset_claims(obj: dict) -> dict[str, dict]:
    """The claims of a StatefulSet's one pod (ordinal 0) from its volumeClaimTemplates, by the names the
    StatefulSet controller gives them (`<template>-<statefulset>-0`), each with its template."""
    name = obj["metadata"]["name"]
    return {f"{t['metadata']['name']}-{name}-0": t for t in obj["spec"].get("volumeClaimTemplates", [])}


def containers(obj: dict) -> list[dict]:
    """Every container of a workload's pod template, init containers first."""
    spec = pod_template(obj)["spec"]
    return spec.get("initContainers", []) + spec["containers"]


def quantity(value: str | int | float) -> float:
    """A Kubernetes quantity as a number: CPU in cores (100m is 0.1), memory in bytes (1Ki is 1024)."""
    text = str(value)
    suffixes = {"m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
    for suffix in sorted(suffixes, key=len, reverse=True):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * suffixes[suffix]
    return float(text)


def init_requests_above_the_pods(spec: dict) -> list[str]:
    """What an init container requests beyond the sum of the app containers' requests: the scheduler
    reserves the larger of the two for the pod's whole life (Kubernetes docs, "Init containers",
    resource sharing), so every such excess is reserved and never used once the pod runs."""
    problems = []
    for resource in ("cpu", "memory"):
        app = sum(quantity(c["resources"]["requests"].get(resource, 0)) for c in spec["containers"])
        for init in spec.get("initContainers", []):
            wanted = init["resources"]["requests"].get(resource, 0)
            if quantity(wanted) > app:
                problems.append(f"{init['name']} requests {resource} {wanted}, more than the app containers' {app:g}")
    return problems


RESTRICTED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


def restricted_profile_problems(spec: dict) -> list[str]:
    """What the "restricted" Pod Security Standard (Kubernetes docs, "Pod Security Standards") refuses
    in a pod spec, as a namespace labelled pod-security.kubernetes.io/enforce=restricted checks it."""
    problems = [f"{flag} is on" for flag in ("hostNetwork", "hostPID", "hostIPC") if spec.get(flag)]
    problems += [
        f"volume {v['name']} is {sorted(set(v) - {'name'})}"
        for v in spec.get("volumes", [])
        if not set(v) - {"name"} <= RESTRICTED_VOLUMES
    ]
    pod = spec.get("securityContext", {})
    for container in spec.get("initContainers", []) + spec["containers"] + spec.get("ephemeralContainers", []):
        context, name = container.get("securityContext", {}), container["name"]
        capabilities = context.get("capabilities", {})
        seccomp = context.get("seccompProfile", pod.get("seccompProfile", {})).get("type")
        problems += [
            f"{name}: {problem}"
            for problem, broken in (
                ("privileged", context.get("privileged")),
                ("allowPrivilegeEscalation is not false", context.get("allowPrivilegeEscalation") is not False),
                ("capabilities do not drop ALL", "ALL" not in capabilities.get("drop", [])),
                ("adds capabilities", set(capabilities.get("add", [])) - {"NET_BIND_SERVICE"}),
                ("runAsNonRoot is not true", context.get("runAsNonRoot", pod.get("runAsNonRoot")) is not True),
                ("runs as user 0", context.get("runAsUser", pod.get("runAsUser")) == 0),
                (f"seccomp {seccomp}, not RuntimeDefault or Localhost", seccomp not in ("RuntimeDefault", "Localhost")),
                ("a hostPort", any(port.get("hostPort") for port in container.get("ports", []))),
            )
            if broken
        ]
    return problems


# -- strict schemas and the policy scan (the dev dependencies kubernetes-validate and checkov) -------


def schema_minors() -> list[str]:
    """Every Kubernetes minor version kubernetes-validate has schemas for, oldest first."""
    from kubernetes_validate.utils import all_versions

    minors = sorted({tuple(map(int, v.split(".")[:2])) for v in all_versions()})
    return [f"{major}.{minor}" for major, minor in minors]


def newest_minor() -> str:
    return schema_minors()[-1]


@functools.cache
def _cached_schema_reader():
    """kubernetes-validate's own schema reader, cached: it parses a megabyte of JSON per object otherwise."""
    from kubernetes_validate.utils import schema_contents

    return functools.cache(schema_contents)


def strict_schema_errors(objects: Iterable[dict], version: str) -> list[str]:
    """kubernetes-validate --strict, in process: one line per object that fails, or has no schema."""
    import kubernetes_validate

    errors = []
    with mock.patch("kubernetes_validate.utils.schema_contents", _cached_schema_reader()):
        for obj in objects:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except (kubernetes_validate.ValidationError, kubernetes_validate.SchemaNotFoundError) as error:
                path = ".".join(map(str, getattr(error, "path", [])))
                errors.append(f"{obj['kind']}/{obj['metadata']['name']} on {version}: {path}: {error.message}")
    return errors


def validate_with_the_cli(paths: list[Path], versions: list[str]) -> None:
    """The `kubernetes-validate --strict` command on every file for every version, in one process:
    it must pass every object for every version (it only warns on a kind it has no schema for)."""
    tool = VENV_BIN / "kubernetes-validate"
    assert tool.exists(), "kubernetes-validate is a dev dependency: run `make setup`"
    argv = [str(tool), "--strict", *(flag for version in versions for flag in ("-k", version)), *map(str, paths)]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(" passed ") == len(load_objects(paths)) * len(versions), result.stdout


def checkov_scan(directory: Path, objects: Iterable[dict]) -> list[dict]:
    """checkov over `directory`: no failed check, every object of `objects` scanned (checkov silently
    ignores what it cannot parse) and every skip with its reason. Returns the skipped checks."""
    tool = VENV_BIN / "checkov"
    assert tool.exists(), "checkov is a dev dependency: run `make setup`"
    result = subprocess.run(
        [str(tool), "-d", str(directory), "--framework", "kubernetes", "--skip-download", "--output", "json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    results = json.loads(result.stdout)["results"]
    failed = sorted({(c["check_id"], c["resource"], c["file_path"]) for c in results["failed_checks"]})
    assert not failed and result.returncode == 0, failed or result.stderr
    scanned = {
        c["resource"].split(".")[0] + "/" + c["resource"].split(".")[2]
        for c in results["passed_checks"] + results["skipped_checks"]
    }
    expected = {
        f"{o['kind']}/{o['metadata']['name']}"
        for o in objects
        if o["kind"] not in ("PersistentVolumeClaim", "HorizontalPodAutoscaler", "PodDisruptionBudget")
    }  # checkov has no checks
    assert expected <= scanned, sorted(expected - scanned)
    reasons = {c["check_result"].get("suppress_comment", "") for c in results["skipped_checks"]}
    assert all(r.strip() and r != "No comment provided" for r in reasons), reasons
    return results["skipped_checks"]


# -- real pods on Podman ------------------------------------------------------------------------------


class PodmanStack:
    """A set of Kubernetes objects brought up as Podman pods and volumes; everything goes on exit.

    objects: parsed objects (dicts, as from `yaml.safe_load_all`), e.g. a level's manifests or the
    output of `helm template`. image: the tag every container runs. images: other images' tags by the
    manifests' image names, e.g. {"mlsteps-store:4.48": tag}. host_port: where the serve pod is
    published on 127.0.0.1. project: the start of every pod, volume, secret and network name this
    stack creates (followed by a random run id).
    env: extra variables set on every container that runs `image` (overriding the manifests' values).
    """

    def __init__(
        self,
        objects: Iterable[dict],
        *,
        image: str,
        host_port: int,
        project: str = "mlsteps-l3",
        env: dict[str, str] | None = None,
        images: dict[str, str] | None = None,
        podman: str = "podman",
    ) -> None:
        self.objects = [copy.deepcopy(obj) for obj in objects if obj]
        self.image = image
        self.images = dict(images or {})
        self.host_port = host_port
        self.project = project
        self.env = dict(env or {})
        self.podman = podman
        self.prefix = f"{project}-{secrets.token_hex(2)}-"
        self.claims = {
            obj["metadata"]["name"]: self.prefix + obj["metadata"]["name"]
            for obj in self.objects
            if obj["kind"] == "PersistentVolumeClaim"
        }
        for obj in self.objects:
            if obj["kind"] == "StatefulSet":
                self.claims.update({claim: self.prefix + claim for claim in statefulset_claims(obj)})
        names = [obj["metadata"]["name"] for obj in self.objects if obj["kind"] == "Secret"]
        self.secrets = {name: self.prefix + name for name in names}
        self.network = self.prefix + "net"
        self._workdir: Path | None = None  # where the played files go, made on entry
        self._played: list[Path] = []
        self._runs = 0
        self.serve_pod: str | None = None
        self.serve_container: str | None = None
        self.serve_containers: list[str] = []  # every serve replica's, in the order they started

    # -- lifecycle ---------------------------------------------------------------------------------

    def __enter__(self) -> PodmanStack:
        """Create the network, the Secrets and the claims' volumes, then start every StatefulSet's pod and
        wait until it is ready, before any step runs. (Names are unique per run: a killed run's leftovers
        never block.)"""
        try:
            self._workdir = Path(tempfile.mkdtemp(prefix=self.prefix))
            self._podman("network", "create", self.network)
            for obj in self.objects:
                if obj["kind"] == "Secret":
                    self._create_secret(obj)
            if claims := self._claim_objects():
                self._play("claims", claims)
            for obj in self.objects:
                if obj["kind"] == "StatefulSet":
                    self.start_statefulset(obj["metadata"]["name"])
        except BaseException:
            self.close()
            raise
        return self

    def _claim_objects(self) -> list[dict]:
        """Every claim, renamed: the PersistentVolumeClaims and the StatefulSets' claim templates."""
        claims = []
        for obj in self.objects:
            if obj["kind"] == "PersistentVolumeClaim":
                claim = copy.deepcopy(obj)
                claim["metadata"]["name"] = self.claims[obj["metadata"]["name"]]
                claims.append(claim)
            elif obj["kind"] == "StatefulSet":
                for name, template in statefulset_claims(obj).items():
                    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", **copy.deepcopy(template)}
                    claim["metadata"] = {**claim["metadata"], "name": self.claims[name]}
                    claims.append(claim)
        return claims

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Take down every pod this stack played and remove its volumes (they outlive `kube down`), its
        Secrets and its network."""
        for path in reversed(self._played):
            self._podman("kube", "down", str(path), check=False)
        self._played.clear()
        names = self._podman("pod", "ps", "--format", "{{.Name}}", check=False).stdout.split()
        for name in names:
            if name.startswith(self.prefix):
                self._podman("pod", "rm", "--force", name, check=False)
        volumes = self._podman("volume", "ls", "--quiet", check=False).stdout.split()
        for volume in volumes:
            if volume.startswith(self.prefix):
                self._podman("volume", "rm", "--force", volume, check=False)
        for secret in self._podman("secret", "ls", "--format", "{{.Name}}", check=False).stdout.split():
            if secret.startswith(self.prefix):
                self._podman("secret", "rm", secret, check=False)
        self._podman("network", "rm", "--force", self.network, check=False)
        if self._workdir is not None:
            for path in self._workdir.glob("*.yaml"):
                path.unlink()
            self._workdir.rmdir()
            self._workdir = None

    # -- lookups -----------------------------------------------------------------------------------

    def find(self, kinds: Iterable[str] | str, name_or_component: str | None = None) -> dict:
        """The one object of `kinds` whose name or `app.kubernetes.io/component` label matches."""
        kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
        candidates = [obj for obj in self.objects if obj["kind"] in kinds]
        if name_or_component is not None:
            candidates = [
                obj
                for obj in candidates
                if name_or_component in (obj["metadata"]["name"], obj["metadata"].get("labels", {}).get(COMPONENT))
            ]
        if len(candidates) != 1:
            found = [f"{o['kind']}/{o['metadata']['name']}" for o in candidates]
            raise LookupError(f"expected one {'/'.join(kinds)} matching {name_or_component!r}, found {found}")
        return candidates[0]

    @property
    def base_url(self) -> str:
        """Where the serve pod answers on this machine."""
        return f"http://127.0.0.1:{self.host_port}"

    # -- running -----------------------------------------------------------------------------------

    def run_job(self, name_or_component: str, timeout: float = 300) -> JobRun:
        """Run one Job's or CronJob's pod template as a one-shot pod, wait for it, return its end.

        Each call is a new pod (`<prefix><name>-<n>`), like one scheduled run of a CronJob; the pod
        is removed once its logs are read.
        """
        obj = self.find(JOB_KINDS, name_or_component)
        self._runs += 1
        pod_name = f"{self.prefix}{obj['metadata']['name']}-{self._runs}"
        pod = self._pod(obj, pod_name, restart_policy="Never")
        started = time.monotonic()
        path = self._play(pod_name, [*self._configmaps(), pod])
        containers = [f"{pod_name}-{c['name']}" for c in pod["spec"]["containers"]]
        try:
            self._podman("wait", *containers, timeout=timeout)
        except subprocess.TimeoutExpired:
            logs = self._logs(containers)
            raise TimeoutError(f"{pod_name} did not finish within {timeout} s; its logs:\n{logs}") from None
        seconds = time.monotonic() - started
        codes = [int(self._podman("inspect", "--format", "{{.State.ExitCode}}", c).stdout.strip()) for c in containers]
        logs = self._logs(containers)
        inspected = self._podman("pod", "inspect", "--format", "{{json .Labels}}", pod_name, check=False).stdout
        labels = json.loads(inspected or "{}") or {}
        self._podman("kube", "down", str(path), check=False)
        self._played.remove(path)
        return JobRun(pod=pod_name, exit_code=max(codes, key=abs), logs=logs, seconds=seconds, labels=labels)

    def start_statefulset(self, name_or_component: str, timeout: float = 120) -> str:
        """Play a StatefulSet's pod template as one long-running pod `<prefix><name>-0`, its
        volumeClaimTemplates mounted from their volumes, and wait until it is ready; return its name."""
        obj = self.find("StatefulSet", name_or_component)
        name = obj["metadata"]["name"]
        if obj["spec"].get("replicas", 1) != 1:
            raise ValueError(f"StatefulSet {name} has {obj['spec']['replicas']} replicas; the harness plays one")
        pod_name = f"{self.prefix}{name}-0"
        pod = self._pod(obj, pod_name, restart_policy=None)
        volumes = pod["spec"].setdefault("volumes", [])
        for claim, template in statefulset_claims(obj).items():
            claim_volume = {"claimName": self.claims[claim]}
            volumes.append({"name": template["metadata"]["name"], "persistentVolumeClaim": claim_volume})
        self._play(pod_name, [*self._configmaps(), pod])
        for container in pod_template(obj)["spec"]["containers"]:
            self._wait_until_probed(f"{pod_name}-{container['name']}", container, timeout)
        return pod_name

    def start_serve(
        self,
        name_or_component: str = "serve",
        timeout: float = 120,
        ready_path: str = "/readyz",
        *,
        replica: int = 0,
        host_port: int | None = None,
    ) -> str:
        """Play the serve Deployment's pod template (init containers first), published on 127.0.0.1:host_port.

        Waits until `ready_path` answers 200 (what the readiness probe would wait for; pass
        ready_path="/healthz" to wait only for the process) and returns the base URL. Another
        `replica` (with its own `host_port`) is one more pod of the same Deployment on the same
        volume; from then on base_url, wait_for and serve_logs follow it.
        """
        obj = self.find("Deployment", name_or_component)
        pod_name = self.prefix + obj["metadata"]["name"] + (f"-{replica}" if replica else "")
        if host_port is not None:
            self.host_port = host_port
        # OnFailure, not the template's Always: Podman 4.3 applies a pod's restartPolicy to its init
        # containers too, and under Always reruns a finished one until the app container happens to start.
        pod = self._pod(obj, pod_name, restart_policy="OnFailure")
        container = pod["spec"]["containers"][0]
        ports = container.get("ports") or []
        if not ports:
            raise ValueError(f"Deployment {obj['metadata']['name']} declares no containerPort to publish")
        port = next((p for p in ports if p.get("name") == "http"), ports[0])
        port["hostPort"] = self.host_port
        port["hostIP"] = "127.0.0.1"  # only this machine, never 0.0.0.0
        self._play(pod_name, [*self._configmaps(), pod])
        self.serve_pod, self.serve_container = pod_name, f"{pod_name}-{container['name']}"
        self.serve_containers.append(self.serve_container)
        self.wait_for(ready_path, timeout=timeout)
        return self.base_url

    def wait_for(self, path: str, timeout: float = 60, status: int = 200) -> None:
        """Poll GET base_url+path until it answers `status`; fail early, with logs, if serve exits."""
        deadline = time.monotonic() + timeout
        container = self.serve_container
        if container is None:
            raise RuntimeError("start_serve() has not been called")
        last = "no answer yet"
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.base_url + path, timeout=5) as response:
                    if response.status == status:
                        return
                    last = f"HTTP {response.status}"
            except urllib.error.HTTPError as error:
                if error.code == status:
                    return
                last = f"HTTP {error.code}"
            except OSError as error:
                last = str(error)
            state = self._podman("inspect", "--format", "{{.State.Status}}", container, check=False).stdout.strip()
            if state in ("exited", "stopped", ""):
                raise RuntimeError(f"{container} is {state or 'gone'}; its logs:\n{self._logs([container])}")
            time.sleep(0.5)
        raise TimeoutError(
            f"GET {path} did not answer {status} within {timeout} s ({last}); serve logs:\n{self.serve_logs()}"
        )

    def serve_logs(self) -> str:
        """Everything the serve container printed so far."""
        return self._logs([self.serve_container]) if self.serve_container else ""

    # -- internals ---------------------------------------------------------------------------------

    def _create_secret(self, obj: dict) -> None:
        """A Podman secret `<prefix><name>` holding the Secret's keys in the form `podman kube play` 4.3 reads
        for `secretKeyRef` and `envFrom.secretRef` (a JSON map of key to base64 value; its own Secret kind
        is stored in a form its env lookup cannot read). Piped in, never written to a file."""
        data = dict(obj.get("data") or {})  # already base64, as in the API
        text = obj.get("stringData") or {}
        data.update({key: base64.b64encode(str(value).encode()).decode() for key, value in text.items()})
        argv = [self.podman, "secret", "create", self.secrets[obj["metadata"]["name"]], "-"]
        result = subprocess.run(argv, input=json.dumps(data), capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise RuntimeError(f"`podman secret create` failed ({result.returncode}):\n{result.stderr}")

    def _wait_until_probed(self, container_name: str, container: dict, timeout: float) -> None:
        """Poll the container's readiness probe (else its startup probe) until it passes, as a kubelet
        would: an httpGet probe is made from inside the container (`podman exec` of python3) on
        127.0.0.1, where a kubelet calls the pod's address. No probe: running is ready."""
        probe = container.get("readinessProbe") or container.get("startupProbe")
        check = ["true"]
        if probe:
            if "httpGet" not in probe:
                raise ValueError(f"{container['name']}: the harness polls only httpGet probes, not {sorted(probe)}")
            port = probe["httpGet"]["port"]
            if isinstance(port, str):
                port = next(p["containerPort"] for p in container.get("ports", []) if p.get("name") == port)
            url = f"http://127.0.0.1:{port}{probe['httpGet'].get('path', '/')}"
            check = ["python3", "-c", f"import urllib.request; urllib.request.urlopen({url!r}, timeout=2)"]
        deadline = time.monotonic() + timeout
        while True:
            state = self._podman("inspect", "--format", "{{.State.Status}}", container_name, check=False).stdout.strip()
            if state in ("exited", "stopped", ""):
                raise RuntimeError(f"{container_name} is {state or 'gone'}; its logs:\n{self._logs([container_name])}")
            probed = state == "running" and self._podman("exec", container_name, *check, check=False, timeout=30)
            if probed and probed.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{container_name} was not ready within {timeout} s; its logs:\n{self._logs([container_name])}"
                )
            time.sleep(1)

    def _network(self, pod: dict) -> list[str]:
        """`--network` for `podman kube play`: the stack's own network, where aardvark-dns resolves each
        alias to the pod; a pod gets the name of every Service that selects it as an alias (a pod with
        hostNetwork stays on this machine's network)."""
        if pod["spec"].get("hostNetwork"):
            return []
        labels = pod["metadata"].get("labels", {})
        aliases = [
            obj["metadata"]["name"]
            for obj in self.objects
            if obj["kind"] == "Service"
            and obj["spec"].get("selector")
            and obj["spec"]["selector"].items() <= labels.items()
            and self._ports_match(obj, pod)
        ]
        return ["--network", self.network + "".join(f"{',' if i else ':'}alias={a}" for i, a in enumerate(aliases))]

    @staticmethod
    def _ports_match(service: dict, pod: dict) -> bool:
        """Whether each of the Service's ports is the port its target container listens on: an alias
        renames, it cannot map ports, so a Service that does gets no alias (and a pod calling it fails)."""
        by_name = {p.get("name"): p["containerPort"] for c in pod["spec"]["containers"] for p in c.get("ports", [])}
        for port in service["spec"].get("ports", []):
            target = port.get("targetPort", port["port"])
            if by_name.get(target, target) != port["port"]:
                return False
        return True

    def _configmaps(self) -> list[dict]:
        """The ConfigMaps, with `env` written over their keys: in Kubernetes a container's env wins over
        its envFrom, but Podman 4.3 lets envFrom win, so an override only in env would be lost."""
        configmaps = [copy.deepcopy(obj) for obj in self.objects if obj["kind"] == "ConfigMap"]
        for configmap in configmaps:
            data = configmap.setdefault("data", {})
            data.update({name: str(value) for name, value in self.env.items() if name in data})
        return configmaps

    def _pod(self, obj: dict, pod_name: str, restart_policy: str | None) -> dict:
        """A bare Pod from `obj`'s pod template, patched as the module docstring says."""
        template = copy.deepcopy(pod_template(obj))
        spec = template["spec"]
        if restart_policy:
            spec["restartPolicy"] = restart_policy
        renamed = {}
        for volume in spec.get("volumes", []):
            if "emptyDir" in volume:
                renamed[volume["name"]] = f"{pod_name}-{volume['name']}"
                volume["name"] = renamed[volume["name"]]
            claim = volume.get("persistentVolumeClaim")
            if claim:
                if claim["claimName"] not in self.claims:
                    raise LookupError(
                        f"{obj['kind']} {obj['metadata']['name']} mounts claim "
                        f"{claim['claimName']!r}, which no PersistentVolumeClaim declares"
                    )
                claim["claimName"] = self.claims[claim["claimName"]]
        for container in spec.get("initContainers", []) + spec["containers"]:
            app = container["image"] not in self.images
            container["image"] = self.images.get(container["image"], self.image)
            for mount in container.get("volumeMounts", []):
                mount["name"] = renamed.get(mount["name"], mount["name"])
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                container.pop(probe, None)
            self._follow_secrets(container)
            if self.env and app:
                env = [e for e in container.get("env", []) if e["name"] not in self.env]
                container["env"] = env + [{"name": k, "value": str(v)} for k, v in self.env.items()]
        metadata = template.get("metadata", {})
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": pod_name,
                "labels": metadata.get("labels", {}),
                "annotations": _pod_annotations(metadata, spec),
            },
            "spec": spec,
        }

    def _follow_secrets(self, container: dict) -> None:
        """Point the container's references to the objects' Secrets at their Podman secrets."""
        refs = [source["secretRef"] for source in container.get("envFrom", []) if "secretRef" in source]
        refs += [
            v["valueFrom"]["secretKeyRef"] for v in container.get("env", []) if "secretKeyRef" in v.get("valueFrom", {})
        ]
        for ref in refs:
            ref["name"] = self.secrets.get(ref["name"], ref["name"])

    def _play(self, stem: str, objects: list[dict]) -> Path:
        if self._workdir is None:
            raise RuntimeError("the stack is not entered: use `with PodmanStack(...) as stack:`")
        path = self._workdir / f"{stem}.yaml"
        path.write_text(yaml.safe_dump_all(objects, sort_keys=False))
        self._played.append(path)
        network = [arg for obj in objects if obj["kind"] == "Pod" for arg in self._network(obj)]
        self._podman("kube", "play", *network, str(path))
        return path

    def _logs(self, containers: list[str]) -> str:
        parts = []
        for container in containers:
            result = self._podman("logs", container, check=False)
            parts.append(result.stdout + result.stderr)
        return "\n".join(parts)

    def _podman(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        result = subprocess.run([self.podman, *args], capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise RuntimeError(f"`podman {' '.join(args)}` failed ({result.returncode}):\n{result.stderr}")
        return result


def _pod_annotations(metadata: dict, spec: dict) -> dict:
    """The template's annotations (values cut to 63 characters); with init containers, Podman's "always"
    type: Podman 4.3 removes a "once" init container while it still runs and fails the play, and
    "always" keeps it, which a pod started once cannot tell apart (a kubelet keeps finished init
    containers too)."""
    # Podman 4.3 holds annotation values to the 63 characters of a label value (Kubernetes has no such
    # limit): the chart's checksum/settings, a 64-character sha256, is cut to fit.
    annotations = {key: str(value)[:63] for key, value in metadata.get("annotations", {}).items()}
    if spec.get("initContainers"):
        annotations["io.podman.annotations.init.container.type"] = "always"
    return annotations


def serve_bootstraps_itself(stack: PodmanStack, timings: dict[str, float]) -> str:
    """What levels 3 and 4 both do first: play serve's pod on an empty claim, with no Job run at all.
    Its init container (`mlsteps bootstrap --if-missing`) publishes a first model before serve's process
    starts, so serve turns ready on its own, as `kubectl rollout status` and `helm install --wait` need.
    Returns serve's base URL."""
    assert not [o for o in stack.objects if o["kind"] == "Job"], "no bootstrap Job: serve's init container does it"
    (init,) = pod_template(stack.find("Deployment", "serve"))["spec"]["initContainers"]
    assert init["command"] == ["mlsteps", "bootstrap", "--if-missing"]
    started = time.monotonic()
    base_url = stack.start_serve(timeout=300)
    timings["serve ready (init container trained first)"] = time.monotonic() - started
    model = httpx.get(f"{base_url}/model", timeout=10).json()
    state = json.loads(stack._podman("inspect", "--format", "{{json .State}}", stack.serve_container).stdout)
    serve_started = datetime.fromisoformat(
        re.sub(r"\.(\d{6})\d*", r".\1", state["StartedAt"]).replace(" +0000 UTC", "+00:00")
    )
    published = datetime.fromisoformat(model["created_at"])
    assert model["version"] == 1 and published <= serve_started, (model, state["StartedAt"])
    return base_url


def second_replica_reuses_the_model(stack: PodmanStack, timings: dict[str, float], host_port: int) -> None:
    """Another serve pod on the same claim (a second replica, or a restart): its init container finds a
    model this image can load and exits at once, so the new pod serves the same version, untrained."""
    version = httpx.get(f"{stack.base_url}/model", timeout=10).json()["version"]
    started = time.monotonic()
    base_url = stack.start_serve(replica=1, host_port=host_port, timeout=120)
    timings["second serve pod ready"] = time.monotonic() - started
    assert httpx.get(f"{base_url}/model", timeout=10).json()["version"] == version


def predict_then_newer_model(stack: PodmanStack, timings: dict[str, float]) -> int:
    """What levels 3 and 4 both check once serve runs: it predicts with the bootstrap model, one run
    of each CronJob's pod succeeds, and serve then answers with the newer model. Returns its version.
    """
    with httpx.Client(base_url=stack.base_url, timeout=10) as client:
        first = client.get("/model").json()["version"]
        answer = client.post("/predict", json=SAMPLE)
        assert answer.status_code == 200, answer.text
        assert answer.json()["model_version"] == first and len(answer.json()["predictions"]) == 1

        for step in ("load-data", "train"):  # one scheduled run of each CronJob
            run = stack.run_job(step)
            assert run.exit_code == 0, f"{step}:\n{run.logs}"
            wanted = stack.find("CronJob", step)["metadata"]["labels"]
            wanted = {k: v for k, v in wanted.items() if k.startswith("app.kubernetes.io/")}
            assert wanted.items() <= run.labels.items(), (wanted, run.labels)  # the docs' one selector finds it
            timings[f"{step} CronJob run"] = run.seconds

        deadline = time.monotonic() + 30
        while (version := client.get("/model").json()["version"]) <= first:
            assert time.monotonic() < deadline, f"serve still on v{version}:\n{stack.serve_logs()}"
            time.sleep(0.5)
        assert client.post("/predict", json={"instances": [[6.7, 3.0, 5.2, 2.3]]}).json()["model_version"] == version
    return version


def store_secret(name: str) -> dict:
    """The store's Secret as `kubectl create secret generic <name> --from-literal=...` makes it
    (docs/beyond-one-machine.md), with a key pair made for this run: no key is ever in the repository."""
    pair = {"AWS_ACCESS_KEY_ID": f"mlsteps-{secrets.token_hex(4)}", "AWS_SECRET_ACCESS_KEY": secrets.token_hex(20)}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name},
        "type": "Opaque",
        "data": {key: base64.b64encode(value.encode()).decode() for key, value in pair.items()},
    }


def _started_at(stack: PodmanStack, container: str) -> str:
    return stack._podman("inspect", "--format", "{{.State.StartedAt}}", container).stdout.strip()


def two_replicas_follow_the_store(objects: list[dict], image: str, images: dict[str, str], project: str) -> dict:
    """Levels 3 and 4 with the in-cluster store: play `objects` (the store's Secret among them) on a stack of
    their own, check `_two_replicas_follow_the_store`, check nothing is left; returns the timings."""
    stack = PodmanStack(
        objects,
        image=image,
        images=images,
        host_port=free_port(),
        project=project,
        env={"MLSTEPS_PROMOTION_TOLERANCE": "1"},  # every new model is promoted, so the version must advance
    )
    timings = {}
    started = time.monotonic()
    with stack:
        timings["store ready"] = time.monotonic() - started
        _two_replicas_follow_the_store(stack, timings, [free_port(), free_port()])
    assert not leftovers(stack.prefix), "the harness left pods, volumes, secrets or a network"
    return timings


def _two_replicas_follow_the_store(stack: PodmanStack, timings: dict[str, float], host_ports: list[int]) -> None:
    """What levels 3 and 4 both check with the in-cluster store (the stack entered: the store pod is
    ready): serve's pod template mounts no claim; one run of load-data and train publishes to the store;
    two serve pods, each with nothing but its own empty /data, answer /predict from the same model
    version, so they read it from the store; a newer train run's model reaches both, with no restart."""
    serve = stack.find("Deployment", "serve")
    volumes = pod_template(serve)["spec"].get("volumes", [])
    assert not [v for v in volumes if "persistentVolumeClaim" in v], f"serve mounts a claim: {volumes}"
    for step in ("load-data", "train"):  # one scheduled run of each CronJob, into the bucket
        run = stack.run_job(step)
        assert run.exit_code == 0, f"{step}:\n{run.logs}"
        timings[f"{step} CronJob run"] = run.seconds
    for replica, port in enumerate(host_ports):
        started = time.monotonic()
        stack.start_serve(replica=replica, host_port=port, timeout=180)
        timings[f"serve replica {replica} ready"] = time.monotonic() - started

    def volumes_of(container: str) -> set[str]:  # what a container runs with, not only what its template says
        mounts = json.loads(stack._podman("inspect", "--format", "{{json .Mounts}}", container).stdout)
        return {m.get("Name") for m in mounts}

    claims = set(stack.claims.values())
    store = stack.find("StatefulSet", "store")
    assert volumes_of(f"{stack.prefix}{store['metadata']['name']}-0-{containers(store)[0]['name']}") & claims
    for container in stack.serve_containers:
        assert not volumes_of(container) & claims, container
    urls = [f"http://127.0.0.1:{port}" for port in host_ports]
    versions = {url: httpx.get(f"{url}/model", timeout=10).json()["version"] for url in urls}
    assert len(set(versions.values())) == 1, versions
    first = versions[urls[0]]
    for url in urls:
        answer = httpx.post(f"{url}/predict", json=SAMPLE, timeout=10)
        assert answer.status_code == 200 and answer.json()["model_version"] == first, answer.text
    started_at = {container: _started_at(stack, container) for container in stack.serve_containers}

    run = stack.run_job("train")
    assert run.exit_code == 0, run.logs
    deadline, newer = time.monotonic() + 60, set()
    for url, container in zip(urls, stack.serve_containers, strict=True):
        while (version := httpx.get(f"{url}/model", timeout=10).json()["version"]) <= first:
            assert time.monotonic() < deadline, f"{container} still on v{version}:\n{stack._logs([container])}"
            time.sleep(0.5)
        answer = httpx.post(f"{url}/predict", json=SAMPLE, timeout=10).json()
        assert answer["model_version"] == version > first, answer
        newer.add(version)
    assert len(newer) == 1, newer  # one train run, one new version, the same on both
    assert {container: _started_at(stack, container) for container in stack.serve_containers} == started_at


def leftovers(prefix: str) -> list[str]:
    """Podman pods, volumes, secrets and networks whose names start with `prefix`: none should outlive a stack."""
    names = []
    for argv in (
        ["volume", "ls", "-q"],
        ["pod", "ps", "--format", "{{.Name}}"],
        ["secret", "ls", "--format", "{{.Name}}"],
        ["network", "ls", "--format", "{{.Name}}"],
    ):
        # check=True: a listing that fails (a flag this Podman lacks) must not read as "nothing left"
        names += subprocess.run(["podman", *argv], capture_output=True, text=True, check=True).stdout.split()
    return [name for name in names if name.startswith(prefix)]


__all__ = [
    "COMPONENT",
    "JobRun",
    "PodmanStack",
    "checkov_scan",
    "containers",
    "leftovers",
    "level3_objects",
    "load_objects",
    "newest_minor",
    "pod_template",
    "init_requests_above_the_pods",
    "predict_then_newer_model",
    "quantity",
    "restricted_profile_problems",
    "schema_minors",
    "second_replica_reuses_the_model",
    "statefulset_claims",
    "serve_bootstraps_itself",
    "store_secret",
    "strict_schema_errors",
    "two_replicas_follow_the_store",
    "validate_with_the_cli",
    "yaml_objects",
]
