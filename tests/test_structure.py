"""The shape of the house: no import cycle among vcam's modules, light imports where the settings
are read, diagnostics on top, and the module map in docs/how-it-works.md true to the code."""

from __future__ import annotations

import ast
import re
import subprocess
import sys

from conftest import REPO

PACKAGE = REPO / "vcam"
HEAVY = ("cv2", "pyvirtualcam", "av", "flask", "ai_edge_litert", "PIL")


def imports() -> dict[str, set[str]]:
    """Each vcam module's imports of other vcam modules, those inside functions included."""
    modules = {path.stem for path in PACKAGE.glob("*.py")}
    graph: dict[str, set[str]] = {}
    for name in modules:
        found = set()
        for node in ast.walk(ast.parse((PACKAGE / f"{name}.py").read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                parts = node.module.split(".")
                if parts[0] == "vcam" and len(parts) > 1:
                    found.add(parts[1])
                elif node.module == "vcam":
                    found |= {alias.name for alias in node.names if alias.name in modules} or {"__init__"}
            elif isinstance(node, ast.Import):
                found |= {alias.name.split(".")[1] for alias in node.names if alias.name.startswith("vcam.")}
        graph[name] = found & modules - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_among_the_modules_counting_imports_inside_functions() -> None:
    graph = imports()
    assert cycles(graph) == []
    # The check finds a cycle where there is one.
    assert cycles({**graph, "frames": graph["frames"] | {"engine"}}) != []


def test_diagnostics_sit_on_top_and_the_sinks_load_no_model_code() -> None:
    graph = imports()
    assert {name for name, used in graph.items() if "doctor" in used} == {"cli"}
    model_code = {"pipeline", "classify", "detect", "tiles", "track", "schedule", "motion", "overlay"}
    for sink in ("mjpeg", "virtual_camera"):
        reached, todo = set(), [sink]
        while todo:
            for other in graph[todo.pop()] - reached:
                reached.add(other)
                todo.append(other)
        assert not reached & model_code, (sink, reached & model_code)


def test_the_settings_and_choices_load_nothing_heavy() -> None:
    code = ("import sys, vcam.config, vcam.choices, vcam.emotions, vcam.live_settings; "
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_module_map_names_every_module_once() -> None:
    text = (REPO / "docs" / "how-it-works.md").read_text()
    mapped = re.findall(r"^- `(\w+)\.py` — ", text.split("## The modules, floor by floor")[1], flags=re.MULTILINE)
    assert sorted(mapped) == sorted(path.stem for path in PACKAGE.glob("*.py") if path.stem != "__init__")
    # Read top to bottom, a module imports none listed after it.
    graph, order = imports(), {name: position for position, name in enumerate(mapped)}
    upward = [(name, other) for name in mapped for other in graph[name] if order.get(other, -1) > order[name]]
    assert upward == [], upward
