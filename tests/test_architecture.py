"""The package's shape is its architecture: a folder per step, one for the volume, and no import circle.

The imports are read with `ast` (no code runs), function-local and TYPE_CHECKING ones included: an
import hidden inside a function is still a dependency.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "common" / "mlsteps"
STEPS = ("load_data", "train", "serve", "monitor")
WINGS = (*STEPS, "volume")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imports_of(name: str) -> set[str]:
    """The package's modules that `name` imports, anywhere in its file."""
    path = MODULES[name]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            for alias in node.names:  # `from mlsteps.serve import routes` imports a module
                full = f"{target}.{alias.name}"
                found.add(full if full in MODULES else target)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {module for module in found if module in MODULES and module != name}


GRAPH = {name: imports_of(name) for name in MODULES}


def wing(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in WINGS else None


def find_circle() -> list[str] | None:
    """One import circle as a path of module names, or None (depth-first search, colours)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        stack.append(name)
        for nxt in sorted(GRAPH[name]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (circle := visit(nxt)):
                return circle
        stack.pop()
        state[name] = 2
        return None

    for name in sorted(GRAPH):
        if name not in state and (circle := visit(name)):
            return circle
    return None


def test_the_package_has_a_folder_per_step_and_one_for_the_volume():
    for folder in WINGS:
        assert (PACKAGE / folder / "__init__.py").is_file(), folder
    assert (PACKAGE / "serve" / "speed_tricks" / "__init__.py").is_file()


def test_no_import_circle_anywhere():
    assert find_circle() is None, " -> ".join(find_circle())


@pytest.mark.parametrize("step", STEPS)
def test_a_step_never_imports_another_step(step):
    crossings = {
        (name, imported)
        for name, imported_set in GRAPH.items()
        if wing(name) == step
        for imported in imported_set
        if wing(imported) in STEPS and wing(imported) != step
    }
    assert not crossings


def test_the_volume_knows_no_step():
    assert not {(n, i) for n, found in GRAPH.items() if wing(n) == "volume" for i in found if wing(i) in STEPS}


def test_the_top_level_modules_reach_into_a_step_only_to_run_it():
    """Settings, logs, errors and schedule are generic: they import no step. The CLI, doctor and show
    are entry points: they may start a step, nothing else may."""
    generic = {f"mlsteps.{name}" for name in ("config", "errors", "logs", "schedule", "table", "learner_code")}
    assert not {(n, i) for n in generic for i in GRAPH[n] if wing(i) in STEPS}


def test_the_checker_sees_a_circle_hidden_in_a_function_and_under_type_checking(monkeypatch):
    source = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from mlsteps.b import x\n"
    hidden = "def f():\n    from mlsteps.a import y\n"
    trees = {"mlsteps.a": source, "mlsteps.b": hidden}
    monkeypatch.setattr(Path, "read_text", lambda self: trees[module_name(self)])
    monkeypatch.setitem(MODULES, "mlsteps.a", PACKAGE / "a.py")
    monkeypatch.setitem(MODULES, "mlsteps.b", PACKAGE / "b.py")
    graph = {"mlsteps.a": imports_of("mlsteps.a"), "mlsteps.b": imports_of("mlsteps.b")}
    assert graph == {"mlsteps.a": {"mlsteps.b"}, "mlsteps.b": {"mlsteps.a"}}
