"""The helm commands the docs show, read as Helm reads them: which release, in which namespace, with
which values each one installs, so tests can render what a learner who follows the page gets."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import helm_python

from helpers import REPO_ROOT, deep_merge

CHART_DIR = REPO_ROOT / "src" / "helm_chart"
TAKES_A_VALUE = {"-f", "--values", "--set", "--set-json", "--set-string", "--timeout", "--namespace", "-n", "--version"}
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


@dataclass
class HelmCommand:
    """One `helm install|upgrade|rollback` line: what it does to which release."""

    line: str
    action: str  # install, upgrade, rollback
    release: str
    namespace: str = "default"
    values: dict = field(default_factory=dict)  # what -f, --set, --set-json give
    reuse: bool = False  # --reuse-values: on top of the release's current values
    target: int | None = None  # rollback's revision
    fails: bool = False  # the page shows an Error right after it


def flag_values(flag: str, value: str) -> dict:
    """The values one flag gives, as Helm reads it."""
    if flag in ("-f", "--values"):
        return helm_python.values_from_yaml((REPO_ROOT / value).read_text())
    if flag in ("--set", "--set-string"):
        return helm_python.parse_set_string(value)
    if flag == "--set-json":
        key, text = value.split("=", 1)
        nested = json.loads(text)
        for part in reversed(key.split(".")):
            nested = {part: nested}
        return nested
    return {}


def parse(line: str, fails: bool = False) -> HelmCommand | None:
    words = shlex.split(line.split("|")[0])
    if len(words) < 3 or words[0] != "helm" or words[1] not in ("install", "upgrade", "rollback"):
        return None
    positional, values, namespace = [], {}, "default"
    rest = iter(words[2:])
    for word in rest:
        if word in TAKES_A_VALUE:
            value = next(rest)
            values = deep_merge(values, flag_values(word, value))
            namespace = value if word in ("--namespace", "-n") else namespace
        elif not word.startswith("-"):
            positional.append(word)
    if words[1] == "rollback":
        return HelmCommand(line, "rollback", positional[0], namespace, target=int(positional[1]), fails=fails)
    return HelmCommand(line, words[1], positional[0], namespace, values, "--reuse-values" in words, fails=fails)


def commands_in(path: Path, start_at: str | None = None, stop_at: str | None = None) -> list[HelmCommand]:
    """The page's helm install/upgrade/rollback lines in order (from the heading `start_at` up to the
    heading `stop_at`); a command whose block is followed by a text block starting with `Error:` is
    marked as failing."""
    text = path.read_text()
    if start_at:
        text = text.split(f"\n## {start_at}\n", 1)[1]
    if stop_at:
        text = text.split(f"\n## {stop_at}\n")[0]
    if path.suffix == ".yaml":  # a values file's header: `#   helm upgrade ...`
        lines = [line.lstrip("# ") for line in text.splitlines() if re.match(r"^#\s+helm ", line)]
        return [c for c in map(parse, lines) if c]
    found = []
    blocks = list(BLOCK.finditer(text))
    for i, block in enumerate(blocks):
        if block.group(1) not in ("bash", "sh", "shell"):
            continue
        after = blocks[i + 1] if i + 1 < len(blocks) else None
        fails = bool(after and after.group(1) == "text" and after.group(2).lstrip().startswith("Error:"))
        for line in block.group(2).replace("\\\n", " ").splitlines():
            command = parse(line.strip(), fails)
            if command:
                found.append(command)
    return found


def render_objects(values: dict, release: str, namespace: str = "default") -> list[dict]:
    """The objects (and `helm test` pods) of a release, as `helm template` prints them."""
    from kube_harness import yaml_objects

    with helm_python.Chart.load(CHART_DIR) as chart:
        rendered = chart.render(values, name=release, namespace=namespace)
    return [o for path, text in rendered.items() if path.endswith(".yaml") for o in yaml_objects(text)]


def release_states(commands: list[HelmCommand]) -> list[tuple[tuple[str, str], dict]]:
    """Each ((release, namespace), values) a release passes through along `commands`, as Helm keeps them."""
    current: dict[tuple[str, str], dict] = {}
    states = []
    for command in commands:
        if command.fails or command.action == "rollback":
            continue
        key = (command.release, command.namespace)
        base = current.get(key, {}) if command.reuse else {}
        current[key] = deep_merge(base, command.values)
        states.append((key, current[key]))
    return states


def releases(commands: list[HelmCommand]) -> dict[tuple[str, str], dict]:
    """(release, namespace) -> the values it ends with after `commands`, as Helm keeps them."""
    return dict(release_states(commands))
