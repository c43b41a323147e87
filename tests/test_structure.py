"""The package's shape: no import cycle among its modules (imports inside functions included),
Hydra's runtime config and the population's key each read in few places, a lesson core that
reads like the lesson, and no module too long to read."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "experiments"


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported_modules(name: str, path: Path) -> set[str]:
    """Every module of the package that `name` imports, wherever the import stands."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    return {m for m in found if m in MODULES and m != name}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while (w := stack.pop()) != v:
                component.append(w)
            if component:
                found.append(sorted([v, *component]))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def modules_mentioning(text: str) -> list[str]:
    return [name for name, path in MODULES.items() if text in path.read_text()]


def test_no_import_cycle_among_the_packages_modules() -> None:
    graph = {name: imported_modules(name, path) for name, path in MODULES.items()}
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle_hidden_in_a_function() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_hydras_runtime_config_is_read_in_at_most_two_modules() -> None:
    assert len(modules_mentioning("HydraConfig")) <= 2, modules_mentioning("HydraConfig")


def test_the_lesson_layers_mention_no_member_dimension_and_no_speed_work() -> None:
    text = (PACKAGE / "core" / "layers.py").read_text().lower()
    for word in ("member", "population", "rsub", "__setattr__", "faster", "slower"):
        assert word not in text, word


def test_no_module_is_over_300_lines() -> None:
    long = {n: len(p.read_text().splitlines()) for n, p in MODULES.items()}
    assert {n: lines for n, lines in long.items() if lines > 300} == {}


def test_the_populations_key_is_read_in_one_module() -> None:
    from experiments.sweeps.population.entry import PLAN_KEY

    assert modules_mentioning(PLAN_KEY) == ["experiments.sweeps.population.entry"]
