"""The proto style contract: every element documented, Buf naming, generated code fresh."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
