"""Generates libs/protos/src/todo from protos/todo (messages, gRPC stubs, .pyi); --check diffs instead.

Running processes import the generated package, so it is never deleted or rewritten in place:
protoc writes a fresh generation into a temporary folder, and only the files that differ from
it are swapped in, each with an atomic rename; files the fresh generation no longer has are
removed last. A file is therefore always either its old or its new version, never missing or
half-written, and an unchanged generation touches nothing at all.
"""

from __future__ import annotations

import argparse
import contextlib
import filecmp
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import grpc_tools

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "protos"
OUT_ROOT = ROOT / "libs" / "protos" / "src"
PACKAGE = "todo"
PACKAGE_DOC = '"""Generated protobuf and gRPC code for the Todo Assistant APIs (see protos/)."""\n'
# Byte-code caches live beside the generated files but are Python's, not the generator's.
IGNORED = frozenset({"__pycache__"})


def generate(out_root: Path) -> None:
    """Runs protoc over every .proto file into out_root/todo, adding __init__.py files."""
    out_root.mkdir(parents=True, exist_ok=True)
    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in (PROTO_ROOT / PACKAGE).rglob("*.proto"))
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    bin_dir = Path(sys.executable).parent
    cmd = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        f"--python_out={out_root}",
        f"--grpc_python_out={out_root}",
        f"--plugin=protoc-gen-mypy={bin_dir / 'protoc-gen-mypy'}",
        f"--plugin=protoc-gen-mypy_grpc={bin_dir / 'protoc-gen-mypy_grpc'}",
        f"--mypy_out={out_root}",
        f"--mypy_grpc_out={out_root}",
        *protos,
    ]
    # The mypy plugins print a line per file; show protoc's output only when it fails.
    result = subprocess.run(cmd, cwd=PROTO_ROOT, capture_output=True, text=True, check=False)  # noqa: S603 - fixed argv, no shell
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"protoc failed (exit {result.returncode})")
    package_dir = out_root / PACKAGE
    (package_dir / "__init__.py").write_text(PACKAGE_DOC)
    (package_dir / "py.typed").write_text("")
    for directory in package_dir.rglob("*"):
        if directory.is_dir() and not (directory / "__init__.py").exists():
            (directory / "__init__.py").write_text("")


@dataclass(frozen=True)
class Differences:
    """How a package folder differs from a fresh generation (paths relative to the package)."""

    added: list[Path]  # only in the fresh generation
    changed: list[Path]  # in both, with different bytes
    removed: list[Path]  # only in the current code: files the generator no longer makes

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    def describe(self) -> list[str]:
        """One line per difference, for people."""
        return [
            *(f"new: {p}" for p in self.added),
            *(f"changed: {p}" for p in self.changed),
            *(f"no longer generated: {p}" for p in self.removed),
        ]


def _entries(folder: Path) -> list[Path]:
    """Everything under folder except byte-code caches, relative to folder."""
    if not folder.is_dir():
        return []
    found = (path.relative_to(folder) for path in folder.rglob("*"))
    return [path for path in found if not IGNORED.intersection(path.parts)]


def _files(folder: Path) -> set[Path]:
    return {path for path in _entries(folder) if (folder / path).is_file()}


def _folders(folder: Path) -> set[Path]:
    return {path for path in _entries(folder) if (folder / path).is_dir()}


def differences(current: Path, fresh: Path) -> Differences:
    """Compares the generated package at `current` with a fresh generation at `fresh`."""
    current_files, fresh_files = _files(current), _files(fresh)
    both = current_files & fresh_files
    return Differences(
        added=sorted(fresh_files - current_files),
        changed=sorted(p for p in both if not filecmp.cmp(current / p, fresh / p, shallow=False)),
        removed=sorted(current_files - fresh_files),
    )


def _replace_atomically(source: Path, target: Path) -> None:
    """Copies source over target so that readers see the old bytes or the new, never neither.

    The copy is written beside the target first: a rename is atomic only within a filesystem.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(source.read_bytes())
        os.chmod(temporary, 0o644)  # mkstemp makes it private; generated code is ordinary source
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def apply(fresh: Path, current: Path) -> Differences:
    """Makes `current` equal to `fresh`, writing only what differs. Returns what it changed."""
    found = differences(current, fresh)
    for path in (*found.added, *found.changed):
        _replace_atomically(fresh / path, current / path)
    # Removed last: until then an old module that imports a removed one still finds it.
    for path in found.removed:
        (current / path).unlink(missing_ok=True)
    # A folder the generator no longer makes holds nothing but byte-code caches by now.
    for folder in sorted(_folders(current) - _folders(fresh), key=lambda f: len(f.parts)):
        shutil.rmtree(current / folder, ignore_errors=True)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if generated code is stale")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="todo-protos-") as tmp:
        generate(Path(tmp))
        fresh = Path(tmp) / PACKAGE
        if args.check:
            stale = differences(OUT_ROOT / PACKAGE, fresh)
            if stale:
                print("generated code is stale; run `make proto`:", *stale.describe(), sep="\n  ")
                return 1
            print("generated code is up to date")
            return 0
        changed = apply(fresh, OUT_ROOT / PACKAGE)
    if changed:
        print(f"updated {OUT_ROOT / PACKAGE}:", *changed.describe(), sep="\n  ")
    else:
        print(f"{OUT_ROOT / PACKAGE} is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
