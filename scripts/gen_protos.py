"""Generates libs/protos/src/todo from protos/todo (messages, gRPC stubs, .pyi); --check diffs instead."""

from __future__ import annotations

import argparse
import filecmp
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import grpc_tools

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "protos"
OUT_ROOT = ROOT / "libs" / "protos" / "src"
PACKAGE = "todo"
PACKAGE_DOC = '"""Generated protobuf and gRPC code for the Todo Assistant APIs (see protos/)."""\n'


def generate(out_root: Path) -> None:
    """Runs protoc over every .proto file into out_root/todo, adding __init__.py files."""
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
    subprocess.run(cmd, check=True, cwd=PROTO_ROOT)  # noqa: S603 - fixed argv, no shell
    package_dir = out_root / PACKAGE
    (package_dir / "__init__.py").write_text(PACKAGE_DOC)
    (package_dir / "py.typed").write_text("")
    for directory in package_dir.rglob("*"):
        if directory.is_dir() and not (directory / "__init__.py").exists():
            (directory / "__init__.py").write_text("")


def _tree_differences(left: Path, right: Path) -> list[str]:
    cmp = filecmp.dircmp(left, right, ignore=["__pycache__"])
    found = [f"only in generated code: {n}" for n in cmp.left_only]
    found += [f"only in a fresh generation: {n}" for n in cmp.right_only]
    found += [f"differs: {n}" for n in cmp.diff_files]
    for name, sub in cmp.subdirs.items():
        found += [f"{name}/{line}" for line in _tree_differences(left / name, right / name)]
        del sub
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if generated code is stale")
    args = parser.parse_args()
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            generate(Path(tmp))
            diffs = _tree_differences(OUT_ROOT / PACKAGE, Path(tmp) / PACKAGE)
        if diffs:
            print("generated code is stale; run `make proto`:", *diffs, sep="\n  ")
            return 1
        print("generated code is up to date")
        return 0
    shutil.rmtree(OUT_ROOT / PACKAGE, ignore_errors=True)
    generate(OUT_ROOT)
    print(f"generated {OUT_ROOT / PACKAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
