"""The package layering, read from the source (no imports): the library never imports its
command-line package, the edge distribution never imports the library or TensorFlow, and no
module-level import circle exists inside ``danet_tf``."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.harness import REPO

PACKAGES = {"danet_tf": REPO / "danet_tf", "danet_tools": REPO / "danet_tools",
            "danet_edge": REPO / "tflite" / "danet_edge"}  # fmt: skip


def _module_name(package: str, path: Path) -> str:
    parts = list(path.relative_to(PACKAGES[package]).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([package, *parts])


def _imports(path: Path, module: str, top_level_only: bool) -> set[str]:
    """Absolute names ``path`` imports (relative imports resolved); with ``top_level_only``,
    only the imports that run when the module is imported (not those inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    if top_level_only:  # also module-level try/if blocks
        nodes = [n for top in tree.body for n in ast.walk(top)
                 if not isinstance(top, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    out = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = module.split(".")
                is_pkg = path.name == "__init__.py"
                pkg = pkg if is_pkg else pkg[:-1]
                pkg = pkg[: len(pkg) - (node.level - 1)]
                base = ".".join(pkg + ([base] if base else []))
            out.update(f"{base}.{alias.name}" for alias in node.names)
    return out


def _modules(package: str):
    for path in sorted(PACKAGES[package].rglob("*.py")):
        yield _module_name(package, path), path


def test_the_library_never_imports_the_command_line_package():
    offenders = {
        module: sorted(n for n in _imports(path, module, False) if n.split(".")[0] == "danet_tools")
        for module, path in _modules("danet_tf")
    }
    offenders = {m: names for m, names in offenders.items() if names}
    assert not offenders, offenders


def test_the_edge_distribution_imports_neither_the_library_nor_tensorflow():
    """At import time; the demo loads the library inside a function, only for a ``.keras``
    or SavedModel model (the TensorFlow-free install refuses those with a clear message)."""
    banned = {"danet_tf", "danet_tools", "tensorflow", "keras", "tf_keras"}
    offenders = {
        module: sorted(n for n in _imports(path, module, True) if n.split(".")[0] in banned)
        for module, path in _modules("danet_edge")
    }
    offenders = {m: names for m, names in offenders.items() if names}
    assert not offenders, offenders


def test_no_module_level_import_circle_in_the_library():
    modules = dict(_modules("danet_tf"))
    graph = {}
    for module, path in modules.items():
        targets = set()
        for name in _imports(path, module, True):
            # ``from danet_tf.x import y`` names module danet_tf.x (and danet_tf.x.y if that
            # is a module); a package's __init__ is the package name itself.
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
        graph[module] = targets

    def cycle_from(start):
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    return path + [start]
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, path + [nxt]))
        return None

    # A package importing its own submodules (``__init__`` re-exports) is not a circle unless
    # a submodule imports the package back at module level as well.
    cycles = {m: c for m in graph if (c := cycle_from(m)) is not None}
    assert not cycles, next(iter(cycles.values()))
