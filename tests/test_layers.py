"""The package's layers: no import circle between its modules, the modules the Snakefile
imports free of TensorFlow, and the workflow free of Snakemake's private attributes."""

from __future__ import annotations

import ast
import subprocess
import sys

from conftest import REPO

SRC = REPO / "src"
PACKAGE = SRC / "augablate"


def module_name(path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports, anywhere in it (at the top, in a function,
    under TYPE_CHECKING): a circle through any of them is a circle of the design. (A
    subpackage's ``__init__`` importing its own modules is not a circle: it is not counted.)"""
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                targets = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            graph[name] |= {target for target in targets if target in modules} - {name}
    return graph


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph``, or None."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return stack[stack.index(target) :] + [target]
            if target not in state and (found := visit(target)):
                return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_import_graph_finds_a_circle_when_there_is_one():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_no_module_of_the_package_imports_itself_back():
    graph = import_graph()
    assert {"augablate.settings", "augablate.train", "augablate.model"} <= set(graph)
    assert "augablate.protocol" in graph["augablate.train"]  # the graph sees imports
    assert cycle(graph) is None, " -> ".join(cycle(graph))
    # the layers: the config side knows nothing of the training side
    for config_side in ("augablate.settings", "augablate.jobs", "augablate.protocol"):
        assert not graph[config_side] & {"augablate.train", "augablate.runner"}, config_side


def test_the_modules_the_snakefile_imports_load_no_tensorflow():
    code = (
        "import sys\n"
        "import augablate.settings, augablate.jobs, augablate.variants, augablate.figures\n"
        "import augablate.reproduce, augablate.startup, augablate.protocol\n"
        "print(sorted(m for m in ('tensorflow', 'keras', 'pandas', 'matplotlib') "
        "if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_workflow_uses_no_private_snakemake_attribute():
    texts = [path.read_text() for path in (REPO / "workflow").rglob("*") if path.is_file()]
    texts += [(REPO / "Snakefile").read_text()]
    texts += [path.read_text() for path in PACKAGE.rglob("*.py")]
    for text in texts:
        assert "_parsed_overwrite" not in text and "resource_settings._" not in text


def test_the_schema_file_holds_the_registry():
    from augablate.settings import augmentation_schema, config_schema

    assert config_schema()["properties"]["augmentation"] == augmentation_schema(), (
        "workflow/schemas/config.schema.yaml's augmentation section differs from the registry: "
        "run python -c 'from augablate.settings import write_augmentation_schema as w; w()'"
    )


def test_the_schema_names_the_resize_methods_the_cache_knows():
    from augablate.data.cache import RESIZE_METHODS
    from augablate.settings import config_schema

    resize = config_schema()["properties"]["data"]["properties"]["resize"]
    assert resize["enum"] == list(RESIZE_METHODS)
