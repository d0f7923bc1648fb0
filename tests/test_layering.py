"""The import arrows of DESIGN.md section 2, checked in a fresh interpreter so no other test's imports count."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parent.parent
OUR_PACKAGES = ("api", "assistant", "orchestration", "pipelines", "sql", "tally", "warehouse")


def run_python(code: str) -> str:
    """What ``code`` prints when run by a new interpreter from the repository root."""
    result = subprocess.run([sys.executable, "-c", code], cwd=REPOSITORY, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_dagster_definitions_load_no_module_of_the_api() -> None:
    code = (
        "import orchestration.definitions, sys; print([m for m in sys.modules if m == 'api' or m.startswith('api.')])"
    )
    assert run_python(code) == "[]\n"


@pytest.mark.parametrize(
    ("package", "may_import"),
    [
        ("assistant", {"assistant", "warehouse", "pipelines", "tally"}),
        ("pipelines", {"pipelines", "tally"}),
    ],
)
def test_a_package_imports_only_the_layers_below_it(package: str, may_import: set[str]) -> None:
    """Every module of ``package`` imported; the packages of ours that this loads are the allowed ones."""
    code = (
        "import importlib, pkgutil, sys; "
        f"package = importlib.import_module({package!r}); "
        "[importlib.import_module(m.name) for m in pkgutil.walk_packages(package.__path__, package.__name__ + '.')]; "
        f"print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}} & set({OUR_PACKAGES!r}))))"
    )
    loaded = set(run_python(code).split())
    assert package in loaded
    assert loaded <= may_import, f"{package} imports {sorted(loaded - may_import)}"


def test_no_module_of_ours_uses_a_private_dagster_api() -> None:
    """Private modules (``dagster._core``...) change without notice; every use of Dagster by the product goes
    through its public names, so an upgrade breaks loudly at an import of ``dagster`` rather than quietly inside a
    private one. (``bench/partitions.py`` may write years of history straight into the event log storage.)"""
    uses = [
        f"{path.relative_to(REPOSITORY)}:{number}"
        for package in OUR_PACKAGES
        for path in sorted((REPOSITORY / package).rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if "dagster._" in line or "dagster_graphql._" in line
    ]
    assert uses == []
