"""The `openai` client's Chat Completions request body, without its per-request type walk.

Before every `chat.completions.create` the client walks the whole body against the params'
TypedDicts (`openai._utils.async_maybe_transform`) to rename aliased keys and format dates and
files. Nothing in `CompletionCreateParams` is aliased or formatted (`transform_is_identity`,
checked by the tests against the installed client), so for a body of plain JSON values the
walk returns what it was given, minus the parameters left out (`omit` / `NOT_GIVEN`). It is
not cheap: the SDK sends the tool schemas with every model request, and the walk took ~1.8 ms
of the ~3.7 ms per request for our eight tools, ~6 % of the agent's CPU per turn under load
(profiled, py-spy).

`install()` puts `plain_body` in its place for the Chat Completions resource: a body whose
values are all plain JSON (dict, list, str, int, float, bool, None) has its left-out
parameters dropped and is otherwise passed on as it is; anything else (a pydantic model, a
tuple, an iterator, another type's params) goes through the client's own transform. The
bytes sent are the same (tests compare both on the bodies the SDK builds).
"""

from __future__ import annotations

import typing
from typing import Any

import typing_extensions
from openai._utils import PropertyInfo, async_maybe_transform, is_given
from openai.resources.chat.completions import completions as _completions
from openai.types.chat import completion_create_params

_CREATE_PARAMS: tuple[type, ...] = (
    completion_create_params.CompletionCreateParamsStreaming,
    completion_create_params.CompletionCreateParamsNonStreaming,
    completion_create_params.CompletionCreateParamsBase,
)
_SCALARS = (str, int, float, bool)
# The client's own transform, which every other body still goes through.
client_transform = async_maybe_transform


def is_plain_json(value: object) -> bool:
    """Whether `value` is made only of dicts with str keys, lists, str, numbers, bool, None."""
    kind = type(value)
    if kind in _SCALARS or value is None:
        return True
    if kind is dict:
        return all(
            type(key) is str and is_plain_json(item)
            for key, item in value.items()  # type: ignore[attr-defined]
        )
    if kind is list:
        return all(is_plain_json(item) for item in value)  # type: ignore[attr-defined]
    return False


async def plain_body(data: object, expected_type: object) -> Any:
    """The client's transform of a create body (see the module docstring)."""
    if expected_type in _CREATE_PARAMS and type(data) is dict:
        body = {key: value for key, value in data.items() if is_given(value)}
        if all(is_plain_json(value) for value in body.values()):
            return body
    return await client_transform(data, expected_type)


def transform_is_identity(root: object) -> bool:
    """Whether the client's transform leaves plain JSON under type `root` unchanged: no key
    alias and no format anywhere in its tree of TypedDicts, unions and containers."""
    seen: set[int] = set()
    pending = [root]
    while pending:
        kind = pending.pop()
        if id(kind) in seen:
            continue
        seen.add(id(kind))
        origin = typing.get_origin(kind)
        if origin is typing.Literal:
            continue
        if origin is typing.Annotated:
            for meta in kind.__metadata__:  # type: ignore[attr-defined]
                if isinstance(meta, PropertyInfo) and (meta.alias or meta.format):
                    return False
        if typing_extensions.is_typeddict(kind):
            pending += typing_extensions.get_type_hints(kind, include_extras=True).values()
        else:
            pending += [arg for arg in typing.get_args(kind) if not isinstance(arg, str)]
    return True


def install() -> bool:
    """Sends Chat Completions bodies through `plain_body` where the installed client's params
    allow it (`transform_is_identity`); returns whether it did. Idempotent."""
    if not all(transform_is_identity(kind) for kind in _CREATE_PARAMS):
        return False
    _completions.async_maybe_transform = plain_body  # type: ignore[attr-defined]
    return True
