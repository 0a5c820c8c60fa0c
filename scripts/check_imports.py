"""Fail on an import cycle between modules of core/ and plugins/, or on a private name imported from another
module.

import-linter (``lint-imports``, run by ``make lint``) checks the layers; this script adds what it does not:
every import counts, including those inside functions (a deferred import hides a cycle, it does not remove
it), and ``from x import _name`` across modules is refused, since an underscore means "not part of x's
contract".

    python scripts/check_imports.py [ROOT]     exit 1 and list the problems, or print a one-line summary
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGES = ("core", "plugins")


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules(root: Path) -> dict[str, Path]:
    return {
        module_name(root, path): path
        for package in PACKAGES
        for path in sorted((root / package).rglob("*.py"))
    }


def absolute(module: str, path: Path, node: ast.ImportFrom) -> str:
    """The absolute module a (possibly relative) ``from ... import`` names."""
    if not node.level:
        return node.module or ""
    base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(module: str, path: Path, modules: dict[str, Path]):
    """(imported module, private name or None, line) for every import in the file, at any depth."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None, node.lineno
        elif isinstance(node, ast.ImportFrom):
            source = absolute(module, path, node)
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                if submodule in modules:
                    yield submodule, None, node.lineno
                else:
                    private = alias.name.startswith("_") and not alias.name.startswith("__")
                    yield source, alias.name if private else None, node.lineno


def graph(root: Path):
    """The import graph between project modules, and the private-name imports found on the way."""
    modules = project_modules(root)
    edges: dict[str, set[str]] = {name: set() for name in modules}
    private = []
    for name, path in modules.items():
        for target, private_name, line in imports_of(name, path, modules):
            if target not in modules or target == name:
                continue
            edges[name].add(target)
            if private_name:
                private.append(f"{path.relative_to(root)}:{line}: imports private {private_name} from {target}")
    return edges, private


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in edges:
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def main(argv: list[str]) -> int:
    root = Path(argv[1] if len(argv) > 1 else Path(__file__).resolve().parent.parent)
    edges, private = graph(root)
    problems = [f"import cycle: {' <-> '.join(component)}" for component in cycles(edges)] + private
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s): break each cycle by moving the shared code into a module both can "
              f"import; make a name public (no underscore) before another module imports it")
        return 1
    print(f"imports: {len(edges)} modules, {sum(map(len, edges.values()))} imports, no cycle, no private name")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
