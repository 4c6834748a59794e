"""The proto style contract: every element documented, Buf naming, generated code fresh; and the
generator, which never leaves running processes without the code they import."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import grpc_tools
import pytest
from google.protobuf import descriptor_pb2
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
FILES = sorted(str(p.relative_to(PROTOS)) for p in (PROTOS / "todo").rglob("*.proto"))

# FileDescriptorProto field numbers (descriptor.proto) used in SourceCodeInfo paths.
MESSAGE, ENUM, SERVICE = 4, 5, 6
FIELD, NESTED, NESTED_ENUM, ONEOF = 2, 3, 4, 8
ENUM_VALUE, METHOD = 2, 2


def _load_generator() -> ModuleType:
    """scripts/gen_protos.py as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("gen_protos", ROOT / "scripts" / "gen_protos.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


gen_protos = _load_generator()


def descriptor_set(tmp_path: Path) -> descriptor_pb2.FileDescriptorSet:
    out = tmp_path / "set.pb"
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    args = [
        "protoc",
        f"-I{PROTOS}",
        f"-I{well_known}",
        "--include_source_info",
        f"--descriptor_set_out={out}",
        *FILES,
    ]
    assert protoc.main(args) == 0
    return descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())


def undocumented(file: descriptor_pb2.FileDescriptorProto) -> list[str]:
    """Names of elements with no leading `//` comment."""
    comments = {
        tuple(loc.path): loc.leading_comments.strip()
        for loc in file.source_code_info.location
        if loc.leading_comments.strip()
    }
    missing: list[str] = []

    def need(path: tuple[int, ...], name: str) -> None:
        if path not in comments:
            missing.append(name)

    def message(msg: descriptor_pb2.DescriptorProto, path: tuple[int, ...], prefix: str) -> None:
        name = f"{prefix}{msg.name}"
        need(path, name)
        for i, field in enumerate(msg.field):
            need((*path, FIELD, i), f"{name}.{field.name}")
        for i, oneof in enumerate(msg.oneof_decl):
            need((*path, ONEOF, i), f"{name}.{oneof.name}")
        for i, nested in enumerate(msg.nested_type):
            if not nested.options.map_entry:
                message(nested, (*path, NESTED, i), f"{name}.")
        for i, nested_enum in enumerate(msg.enum_type):
            enum(nested_enum, (*path, NESTED_ENUM, i), f"{name}.")

    def enum(en: descriptor_pb2.EnumDescriptorProto, path: tuple[int, ...], prefix: str) -> None:
        need(path, f"{prefix}{en.name}")
        for i, value in enumerate(en.value):
            need((*path, ENUM_VALUE, i), f"{prefix}{en.name}.{value.name}")

    for i, msg in enumerate(file.message_type):
        message(msg, (MESSAGE, i), "")
    for i, en in enumerate(file.enum_type):
        enum(en, (ENUM, i), "")
    for i, service in enumerate(file.service):
        need((SERVICE, i), service.name)
        for j, method in enumerate(service.method):
            need((SERVICE, i, METHOD, j), f"{service.name}.{method.name}")
    return missing


def test_every_proto_element_has_a_comment(tmp_path: Path) -> None:
    files = [f for f in descriptor_set(tmp_path).file if f.name.startswith("todo/")]
    assert {f.name for f in files} == set(FILES)
    missing = {f.name: undocumented(f) for f in files}
    assert {name: items for name, items in missing.items() if items} == {}


def test_packages_match_their_folders_and_are_versioned(tmp_path: Path) -> None:
    for file in descriptor_set(tmp_path).file:
        if file.name.startswith("todo/"):
            assert file.package == str(Path(file.name).parent).replace("/", ".")
            assert file.package.endswith(".v1")


def test_enum_zero_values_are_unspecified(tmp_path: Path) -> None:
    for file in descriptor_set(tmp_path).file:
        if not file.name.startswith("todo/"):
            continue
        for en in file.enum_type:
            assert en.value[0].number == 0
            assert en.value[0].name.endswith("_UNSPECIFIED"), en.name


@pytest.mark.timeout(60)
def test_generated_code_is_not_stale() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_protos.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def _identities(root: Path) -> dict[str, tuple[int, int]]:
    """Each file's inode and modification time: a rewrite or a rename changes them."""
    return {
        str(p.relative_to(root)): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file()
    }


def test_apply_swaps_in_only_what_changed_and_removes_what_is_gone(tmp_path: Path) -> None:
    current, fresh = tmp_path / "current", tmp_path / "fresh"
    _write(
        current,
        {
            "__init__.py": "",
            "a/v1/same_pb2.py": "same",
            "a/v1/changed_pb2.py": "old",
            "a/v1/__pycache__/same_pb2.cpython-311.pyc": "bytecode",
            "gone/v1/old_pb2.py": "old",
            "gone/v1/__pycache__/old_pb2.cpython-311.pyc": "bytecode",
        },
    )
    _write(
        fresh,
        {
            "__init__.py": "",
            "a/v1/same_pb2.py": "same",
            "a/v1/changed_pb2.py": "new",
            "b/v1/added_pb2.py": "added",
        },
    )
    before = _identities(current)

    changes = gen_protos.apply(fresh, current)

    assert changes.added == [Path("b/v1/added_pb2.py")]
    assert changes.changed == [Path("a/v1/changed_pb2.py")]
    assert changes.removed == [Path("gone/v1/old_pb2.py")]
    after = _identities(current)
    # Untouched: the unchanged file and Python's caches beside it.
    for name in ("__init__.py", "a/v1/same_pb2.py", "a/v1/__pycache__/same_pb2.cpython-311.pyc"):
        assert after[name] == before[name], name
    assert (current / "a/v1/changed_pb2.py").read_text() == "new"
    assert after["a/v1/changed_pb2.py"][0] != before["a/v1/changed_pb2.py"][0]  # renamed over
    assert (current / "b/v1/added_pb2.py").read_text() == "added"
    # The folder the generator no longer makes is gone, caches and all; no temporary files.
    assert not (current / "gone").exists()
    assert set(after) == {
        "__init__.py",
        "a/v1/same_pb2.py",
        "a/v1/changed_pb2.py",
        "a/v1/__pycache__/same_pb2.cpython-311.pyc",
        "b/v1/added_pb2.py",
    }
    assert not gen_protos.differences(current, fresh)


@pytest.mark.timeout(120)
def test_regenerating_unchanged_protos_rewrites_no_file(tmp_path: Path) -> None:
    """Two generations are byte for byte the same, so a second one touches nothing at all."""
    gen_protos.generate(tmp_path / "first")
    gen_protos.generate(tmp_path / "second")
    current = tmp_path / "current"
    shutil.copytree(tmp_path / "first" / gen_protos.PACKAGE, current)
    before = _identities(current)

    changes = gen_protos.apply(tmp_path / "second" / gen_protos.PACKAGE, current)

    assert not changes, changes.describe()
    assert _identities(current) == before
