"""The layering the project relies on, checked on the source: who may import moto and build AWS clients."""

from __future__ import annotations

import ast
import subprocess
import sys
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


def _loaded_after_import(module: str) -> set[str]:
    """Top-level packages a fresh interpreter holds after importing `module` (all it pulls in)."""
    code = f"import sys, {module}; print(' '.join(sorted({{name.split('.')[0] for name in sys.modules}})))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return set(done.stdout.split())


def test_importing_the_metrics_pulls_in_no_aws_library() -> None:
    """Not only do the metrics modules not import AWS libraries: nothing they import does (the config's
    region list is loaded on first use)."""
    for module in (
        "isoaudit.metrics",
        "isoaudit.metrics.report",
        "isoaudit.metrics.measures",
        "isoaudit.schema",
    ):
        assert not _loaded_after_import(module) & {"boto3", "botocore", "awswrangler", "moto"}, module


def test_the_library_never_imports_the_flow() -> None:
    """The flow (flows/) is the application on top of the library: it registers itself under an entry point,
    and no module of src/isoaudit imports it, nor does importing the command line load it."""
    importers = {
        relative(path)
        for path in (ROOT / "src" / "isoaudit").rglob("*.py")
        if any(m.split(".")[0] == "flows" for m in imported_modules(path))
    }
    assert importers == set()
    assert "flows" not in _loaded_after_import("isoaudit.cli")


def test_no_module_over_400_lines_nor_function_over_60_outside_the_emulator() -> None:
    too_long = []
    for path in (ROOT / "src" / "isoaudit").rglob("*.py"):
        if "emulator" in path.parts:
            continue
        source = path.read_text()
        if len(source.splitlines()) > 400:
            too_long.append(f"{relative(path)}: {len(source.splitlines())} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > 60:
                    too_long.append(f"{relative(path)}:{node.lineno} {node.name}: {length} lines")
    assert too_long == []
