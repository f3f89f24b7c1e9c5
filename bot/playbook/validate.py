"""Pydantic validation whose errors point at YAML lines, in words operators read."""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core.core_schema import ErrorType

from bot.playbook.errors import Problems, did_you_mean
from bot.playbook.loader import Doc, Path

# pydantic's own error kinds; any other kind is a PydanticCustomError of ours, already in operators' words.
_BUILT_IN = frozenset(typing.get_args(ErrorType)) - {"value_error", "assertion_error"}
# Patterns of `Field(pattern=...)` in operators' words.
_PATTERNS = {r"^[a-z0-9][a-z0-9-]*$": "lower-case letters, digits and '-', starting with a letter or digit"}


def describe(value: object) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return f"'{value}'"


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _model_of(typing.get_args(annotation)[0])
    if origin in (list, tuple, dict, typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _model_of(arg)
            if found is not None:
                return found
    return None


def field_names(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...], sections: Mapping[str, type[BaseModel]]) -> list[str]:
    """The keys taken at `loc`; `sections` are those the model checks itself beside its fields (validate_model)."""
    current: type[BaseModel] | None = model
    beside = sections
    for part in loc:
        if current is None:
            return []
        if isinstance(part, int):
            continue
        found = beside.get(part)
        for name, info in current.model_fields.items():
            if part in (name, info.alias):
                found = _model_of(info.annotation)
        current, beside = found, {}
    return [*field_names(current), *beside] if current is not None else []


def _message(
    err: Mapping[str, Any], label: str, model: type[BaseModel], sections: Mapping[str, type[BaseModel]]
) -> str:
    kind = err["type"]
    loc = err["loc"]
    got = describe(err.get("input"))
    names = [p for p in loc if isinstance(p, str)]
    name = names[-1] if names else label
    ctx = err.get("ctx") or {}
    key_of = None
    if loc and loc[-1] == "[key]":  # a mapping key of the wrong type, e.g. `bonus: {a: 5}`
        names = [p for p in loc[:-2] if isinstance(p, str)]
        key_of = names[-1] if names else label
    if kind == "missing":
        owner = names[-2] if len(names) > 1 else label
        return f"'{owner}' needs '{name}'"
    if kind == "extra_forbidden":
        owner = names[-2] if len(names) > 1 else label
        fields = _fields_at(model, loc[:-1], sections)
        hint = did_you_mean(name, fields)
        if not hint:
            hint = f"; '{owner}' takes " + (", ".join(fields) if fields else f"no options: write '{owner}: {{}}'")
        return f"unknown key '{name}' in '{owner}'{hint}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        text = "must be a whole number"
    elif kind in ("float_type", "float_parsing"):
        text = "must be a number"
    elif kind in ("bool_type", "bool_parsing"):
        text = "must be true or false"
    elif kind == "string_type":
        text = "must be text"
    elif kind in ("list_type", "tuple_type", "set_type"):
        text = "must be a list"
    elif kind in ("dict_type", "model_type", "model_attributes_type"):
        text = "must be a mapping of options"
    elif kind == "literal_error":
        expected = str(ctx.get("expected"))
        hint = did_you_mean(err.get("input"), re.findall(r"'([^']*)'", expected))
        return f"'{name}' must be {expected}; got {got}{hint}"
    elif kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        sign = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}
        limit = next(iter(ctx.values()), "?")
        text = f"must be {sign[kind]} {limit}"
    elif kind == "too_short":
        least = ctx.get("min_length", 1)
        return f"'{name}' needs at least {least} item{'s' if least != 1 else ''}; got {got}"
    elif kind == "too_long":
        return f"'{name}' takes at most {ctx.get('max_length', '?')} items; got {got}"
    elif kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern"))
        text = f"must be {_PATTERNS[pattern]}" if pattern in _PATTERNS else f"must match the pattern '{pattern}'"
    elif kind == "string_too_short":
        text = "must not be empty"
    elif kind == "string_too_long":
        text = f"must be at most {ctx.get('max_length', '?')} characters"
    elif kind in _BUILT_IN:  # a kind no schema of ours should meet: our words, not pydantic's
        text = "is not valid here"
    else:  # a validator's own message (ValueError or PydanticCustomError), written for operators
        msg = str(err.get("msg", "is not valid"))
        msg = msg.removeprefix("Value error, ")
        return f"'{name}' {msg}" if not msg.startswith("'") else msg
    if key_of is not None:
        return f"a key of '{key_of}' {text}; got {got}"
    return f"'{name}' {text}; got {got}"


def validate_model(
    doc: Doc,
    model: type[BaseModel],
    data: Mapping[str, Any],
    problems: Problems,
    *,
    base: Path,
    label: str,
    field_paths: Mapping[str, Path] | None = None,
    sections: Mapping[str, type[BaseModel]] | None = None,
) -> BaseModel | None:
    """Validate `data`; each error is located at the YAML key or value it came from. `sections`: keys the model
    checks itself beside its fields, each with its model (config.yaml's abilities' sections: bot/config.py), so
    that messages name them like fields."""
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        paths = field_paths or {}
        for err in exc.errors():
            loc = tuple(err["loc"])
            if loc and loc[0] in paths:
                yaml_path = paths[loc[0]] + loc[1:]
                err_label = label if paths[loc[0]] == base else str(loc[0])
            else:
                yaml_path = base + loc
                err_label = label
            message = _message(err, label, model, sections or {})
            if loc and loc[0] in paths and paths[loc[0]] == base:
                # The short form (`role: [staf]`) never names its field ('roles'): use the word written.
                message = message.replace(f"'{loc[0]}'", f"'{err_label}'", 1)
            if err["type"] == "extra_forbidden":
                where = doc.key_at(yaml_path)
            elif loc and loc[-1] == "[key]":
                where = doc.key_at(yaml_path[:-1])
            else:
                where = doc.at(yaml_path)
            problems.add(where, message)
        return None
