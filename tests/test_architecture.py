"""The layering of DESIGN.md, read from the source with `ast`, so that it stays true as code grows.

models/     imports nothing of ours (no optimizer, no connectors)
optimizer/  imports models, numpy/pandas and solvers; never connectors or service libraries
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OUR_PACKAGES = {"models", "optimizer", "connectors", "bench", "notebooks", "tests"}
SERVICE_LIBRARIES = {"connectors", "fastapi", "starlette", "redis", "ocpp", "websockets", "uvicorn", "apscheduler"}


def python_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def imported_modules(path: Path, package: str) -> set[str]:
    """Absolute names of every module the file imports, wherever in the file (also lazily)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: inside the file's own package
                names.add(package if node.module is None else f"{package}.{node.module}")
            elif node.module is not None:
                names.add(node.module)
        elif isinstance(node, ast.Call) and _is_dynamic_import(node.func) and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                names.add(first.value)
    return names


def _is_dynamic_import(func: ast.expr) -> bool:
    if isinstance(func, ast.Name):
        return func.id in {"__import__", "import_module"}
    return isinstance(func, ast.Attribute) and func.attr == "import_module"


def top_level(name: str) -> str:
    return name.split(".")[0]


def test_the_packages_have_source_files() -> None:
    assert len(python_files("models")) >= 5
    assert len(python_files("optimizer")) >= 5


@pytest.mark.parametrize("path", python_files("models"), ids=lambda path: path.relative_to(ROOT).as_posix())
def test_models_import_nothing_of_ours(path: Path) -> None:
    ours = {top_level(name) for name in imported_modules(path, "models")} & OUR_PACKAGES
    assert ours <= {"models"}, f"{path.relative_to(ROOT)} imports {sorted(ours - {'models'})}"


@pytest.mark.parametrize("path", python_files("optimizer"), ids=lambda path: path.relative_to(ROOT).as_posix())
def test_optimizer_never_imports_connectors_or_service_libraries(path: Path) -> None:
    imported = {top_level(name) for name in imported_modules(path, "optimizer")}
    forbidden = imported & (SERVICE_LIBRARIES | (OUR_PACKAGES - {"models", "optimizer"}))
    assert not forbidden, f"{path.relative_to(ROOT)} imports {sorted(forbidden)}"


def test_the_checker_sees_every_kind_of_import(tmp_path: Path) -> None:
    source = tmp_path / "sample.py"
    source.write_text(
        "import fastapi.routing\n"
        "from connectors.ocpp import server\n"
        "from . import sibling\n"
        "from .store import memory\n"
        "def later():\n"
        "    import redis\n"
        "    importlib.import_module('websockets')\n"
        "    __import__('uvicorn')\n",
        encoding="utf-8",
    )
    assert imported_modules(source, "optimizer") == {
        "fastapi.routing",
        "connectors.ocpp",
        "optimizer",
        "optimizer.store",
        "redis",
        "websockets",
        "uvicorn",
    }
