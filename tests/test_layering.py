"""The import directions of docs/architecture.md, read from the source: `serving -> vision <- datasets <-
training`, all of them -> xscreen's small modules, and nothing but the entry point imports the CLI root."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from xscreen.checkout import REPO_ROOT

PACKAGES = ("vision", "datasets", "training", "serving")
ALLOWED = {  # package -> the packages it may import (besides xscreen's small modules)
    "vision": set(),
    "datasets": {"vision"},
    "training": {"vision", "datasets"},
    "serving": {"vision"},
}
SMALL = {"settings", "errors", "resources", "checkout", "clitools"}  # xscreen's modules every package may use


def _imports(path: Path) -> set[str]:
    """Every `xscreen.*` module a file imports, at module level or inside functions."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m == "xscreen" or m.startswith("xscreen.")}


def _files(folder: str) -> list[Path]:
    return sorted((REPO_ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("package", PACKAGES)
def test_packages_import_only_downwards(package: str) -> None:
    wrong = []
    for path in _files(package):
        for module in _imports(path):
            parts = module.split(".")
            target = parts[1] if len(parts) > 1 else "xscreen"
            if target == package or target in ALLOWED[package]:
                continue
            if target in SMALL or (target == "xscreen" and len(parts) == 1):
                continue
            wrong.append(f"{path.relative_to(REPO_ROOT)}: {module}")
    assert not wrong, f"{package} may import {sorted(ALLOWED[package] | SMALL)} only"


def test_xscreens_small_modules_import_no_package() -> None:
    wrong = []
    for path in _files("xscreen"):
        if path.stem in ("cli", "doctor"):  # the root assembles the package CLIs; doctor loads the engine to check it
            continue
        wrong += [f"{path.name}: {m}" for m in _imports(path) if len(m.split(".")) > 1 and m.split(".")[1] in PACKAGES]
    assert not wrong


def test_nothing_imports_the_cli_root() -> None:
    users = [str(p.relative_to(REPO_ROOT)) for folder in ("xscreen", *PACKAGES) for p in _files(folder) if "xscreen.cli" in _imports(p)]
    assert users == []
