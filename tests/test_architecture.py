"""The layering the project relies on, checked on the source: who may import moto and build AWS clients."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted([*(ROOT / "src" / "isoaudit").rglob("*.py"), *(ROOT / "flows").rglob("*.py")])


def imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
    return modules


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_only_the_emulator_imports_moto() -> None:
    importers = {
        relative(path) for path in SOURCES if any(m.split(".")[0] == "moto" for m in imported_modules(path))
    }
    assert importers
    assert all(path.startswith("src/isoaudit/emulator/") for path in importers), importers


def test_only_the_session_module_builds_boto3_sessions_and_clients() -> None:
    """boto3 is imported by the one module that builds clients (and by the emulator, for its dummy
    management credentials); every other module receives an AwsSession."""
    importers = {relative(path) for path in SOURCES if "boto3" in imported_modules(path)}
    assert importers == {"src/isoaudit/aws/session.py", "src/isoaudit/emulator/organization.py"}
    callers = {
        relative(path)
        for path in SOURCES
        if ".client(" in path.read_text() and not relative(path).startswith("src/isoaudit/emulator/")
    }
    assert all(path.startswith("src/isoaudit/aws/") for path in callers), callers


def test_metrics_do_no_io() -> None:
    """Pure transformations: no AWS, no files, no awswrangler in isoaudit.metrics."""
    for path in (ROOT / "src" / "isoaudit" / "metrics").glob("*.py"):
        modules = imported_modules(path)
        assert not {m for m in modules if m.split(".")[0] in {"boto3", "botocore", "awswrangler", "moto"}}
        assert not {m for m in modules if m.startswith(("isoaudit.aws", "isoaudit.publish"))}, path
