"""The import graph of fastnn's own modules: no cycles, and the kernel half never imports up.

The graph is read from the source (every ``import`` statement, function-local ones too), so a
cycle hidden inside a function counts.  ``from package import name`` is an edge to the
submodule when ``name`` is one, else to the package.
"""

import ast
from pathlib import Path

import fastnn

ROOT = Path(fastnn.__file__).resolve().parent
KERNEL_HALF = ("fastnn.core", "fastnn.reference", "fastnn._kernels", "fastnn.registry")
UPPER_WINGS = ("fastnn.nn", "fastnn.workflow", "fastnn.cli")


def _modules():
    names = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def _imports(name, path, modules):
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                for alias in node.names
            ]
        else:
            continue
        found.update(t for t in targets if t in modules and t != name)
    return found


def _graph():
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _in(name, prefixes):
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_the_graph_is_read():
    graph = _graph()
    assert "fastnn.nn.layers" in graph["fastnn.nn.models"]
    assert "fastnn.workflow.search._runner" in graph["fastnn.workflow.search"]


def test_no_import_cycles():
    graph = _graph()
    cycles = []
    state = {}

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_kernel_half_does_not_import_the_upper_wings():
    bad = [
        (name, target)
        for name, targets in _graph().items()
        if _in(name, KERNEL_HALF)
        for target in targets
        if _in(target, UPPER_WINGS)
    ]
    assert not bad, bad


def test_nn_does_not_import_workflow_or_cli():
    bad = [
        (name, target)
        for name, targets in _graph().items()
        if _in(name, ("fastnn.nn",))
        for target in targets
        if _in(target, ("fastnn.workflow", "fastnn.cli"))
    ]
    assert not bad, bad
