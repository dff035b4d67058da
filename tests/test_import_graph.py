"""smolmoe's subpackages are layers that follow the pipeline, and a module imports only from its
own layer or the layers below it, counting the imports inside functions (a function-level import
can hide a cycle or an upward dependency from Python, not from a reader). Within a layer, the
modules import each other without a cycle."""
import ast
from pathlib import Path

import smolmoe

ROOT = Path(smolmoe.__file__).parent

# The layers, lowest first: each may import the ones before it. Layers in one tuple are peers
# that import neither each other nor anything above them. The data recipes are part of `data`.
LAYERS = ["core", "data", "training", "moe", "inference", "evaluation", "rl", "scratch",
          "pipelines", ("serve", "export"), "cli"]


def layer_rank(layers=LAYERS) -> dict[str, int]:
    return {name: i for i, entry in enumerate(layers)
            for name in (entry if isinstance(entry, tuple) else (entry,))}


def layer_of(module: str) -> str:
    """smolmoe.moe.router -> moe; the package itself (smolmoe) -> ''."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def module_name(path: Path) -> str:
    parts = ["smolmoe", *path.relative_to(ROOT).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def absolute(node: ast.ImportFrom, path: Path) -> str:
    """The module a `from ... import` statement in `path` reads from, relative levels resolved."""
    if not node.level:
        return node.module or ""
    name = module_name(path)
    anchor = (name if path.name == "__init__.py" else name.rsplit(".", 1)[0]).split(".")
    anchor = anchor[:len(anchor) - node.level + 1]
    return ".".join(anchor + ([node.module] if node.module else []))


def import_graph() -> dict[str, set[str]]:
    """smolmoe module -> the smolmoe modules it imports anywhere in its source."""
    files = {module_name(p): p for p in ROOT.rglob("*.py")}
    graph = {}
    for name, path in files.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = absolute(node, path)
                submodules = {f"{base}.{a.name}" for a in node.names} & files.keys()
                targets |= submodules                      # `from . import router`
                if len(submodules) < len(node.names):      # names defined in base itself
                    targets.add(base)
        graph[name] = {t for t in targets if t in files and t != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}    # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node):
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def upward_imports(graph: dict[str, set[str]], layers=LAYERS) -> list[str]:
    """Every import of a module in a higher layer, or in a peer layer, as 'a -> b' lines."""
    rank = layer_rank(layers)
    found = []
    for module, targets in sorted(graph.items()):
        here = layer_of(module)
        for target in sorted(targets):
            there = layer_of(target)
            if here and there and here != there and rank[there] >= rank[here]:
                found.append(f"{module} ({here}) -> {target} ({there})")
    return found


def test_finder_sees_a_cycle_through_a_function_level_import():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_checker_fails_on_an_upward_or_sideways_import():
    graph = {"smolmoe.core.io": {"smolmoe.cli.main"}, "smolmoe.cli.main": {"smolmoe.core.io"},
             "smolmoe.serve.app": {"smolmoe.export.gguf"}, "smolmoe.export.gguf": set()}
    assert upward_imports(graph) == ["smolmoe.core.io (core) -> smolmoe.cli.main (cli)",
                                     "smolmoe.serve.app (serve) -> smolmoe.export.gguf (export)"]
    assert upward_imports({"smolmoe.cli.main": {"smolmoe.core.io"}}) == []


def test_the_graph_has_the_edges_it_should():
    graph = import_graph()
    assert "smolmoe.core.modeldir" in graph["smolmoe.moe.assemble"]       # two dots up
    assert "smolmoe.moe.router" in graph["smolmoe.moe.assemble"]          # `from . import router`
    assert "smolmoe.core.modeldir" in graph["smolmoe.scratch.pretrain"]
    assert "smolmoe.core.errors" in graph["smolmoe.data.recipes.sources"]  # recipes are in the graph


def test_every_subpackage_has_a_declared_layer():
    packages = {p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file()}
    assert packages == set(layer_rank())
    top = {p.name for p in ROOT.glob("*.py")}
    assert top == {"__init__.py"}, f"modules outside the layers: {sorted(top - {'__init__.py'})}"


def test_no_module_imports_from_a_layer_above_its_own():
    assert upward_imports(import_graph()) == []


def names_bound_in(path: Path) -> set[str]:
    """The top-level names a module defines or imports."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def stale_imports(roots) -> list[str]:
    """Imports of smolmoe modules (or of names in its packages) that this checkout does not
    have: another installed copy of smolmoe would answer them silently."""
    files = {module_name(p): p for p in ROOT.rglob("*.py")}
    found = []
    for root in roots:
        for path in sorted(Path(root).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    wanted = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and (ROOT in path.resolve().parents
                                                           or not node.level):
                    base = absolute(node, path)
                    wanted = [base]
                    if files.get(base, Path()).name == "__init__.py":   # a package
                        bound = names_bound_in(files[base])
                        wanted += [f"{base}.{a.name}" for a in node.names if a.name not in bound]
                else:
                    continue
                found += [f"{path}:{node.lineno}: {w}" for w in wanted
                          if w.split(".")[0] in ("smolmoe", "data_recipes") and w not in files]
    return found


def test_every_import_of_smolmoe_names_a_module_of_this_checkout():
    checkout = ROOT.parent
    assert stale_imports([ROOT, checkout / "tests", checkout / "scripts"]) == []


def test_smolmoe_has_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)
