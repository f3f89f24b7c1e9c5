"""JSON Schema of a playbook file, so editors complete and check playbooks as operators type.

Everything comes from the registry: each trigger, condition and action adds one
list-item schema built from its pydantic model, so a new handler shows up here
without this file changing. The schema is draft-07, which the YAML language
server (VS Code's YAML extension) supports best.

It mirrors `bot/playbook/builder.py` but leans permissive: `qunguan check` stays
the judge, and an editor must never flag a playbook that loads. So where a
model's validators accept more than its field types say (`role: staff` for
`role: [staff]`, a quoted number for a number, 休眠期 for dormant), the schema
accepts that too; a regex is any text (Python's `(?P<name>...)` is no ECMA-262
regex, which `format: regex` would demand); and rules JSON Schema cannot say
(exactly one of text/keywords/regex, `else` last) are left to the loader.
tests/test_schema.py holds it to that with an independent validator.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from bot.playbook.model import _ID, TOP_KEYS
from bot.playbook.types import trimmed
from bot.registry import Registry, ResourceSpec, Spec, load_abilities

DRAFT = "http://json-schema.org/draft-07/schema#"
KINDS = ("trigger", "condition", "action")
CHOOSE = "choose"  # structural: handled by builder.py before any registered action
WAIT = "wait"

Schema = dict[str, Any]

_INT_TEXT = trimmed(r"[+-]?[0-9]+(?:_[0-9]+)*(?:\.0+)?")  # a whole number as pydantic reads it from text


class _InputSchema(GenerateJsonSchema):
    """Schemas of what a playbook may write, rather than of the values validators produce."""

    def function_before_schema(self, schema: core_schema.BeforeValidatorFunctionSchema) -> JsonSchemaValue:
        return self._one_or_list(schema, super().function_before_schema(schema))

    def function_wrap_schema(self, schema: core_schema.WrapValidatorFunctionSchema) -> JsonSchemaValue:
        return self._one_or_list(schema, super().function_wrap_schema(schema))

    @staticmethod
    def _one_or_list(schema: Any, result: JsonSchemaValue) -> JsonSchemaValue:
        # A validator in front of a list is the playbooks' `as_list` idiom: one item stands for a
        # list of one. A validator that declares its input (json_schema_input_type) is taken at its word.
        if schema.get("json_schema_input_schema") is None and result.get("type") == "array":
            items = result.get("items")
            if isinstance(items, dict):
                return {"anyOf": [copy.deepcopy(items), result]}
        return result

    def handle_invalid_for_json_schema(self, schema: Any, error_info: str) -> JsonSchemaValue:
        return {}  # a Python-only type (arbitrary_types_allowed): anything goes, the loader judges

    def int_schema(self, schema: core_schema.IntSchema) -> JsonSchemaValue:
        # The loader validates in pydantic's lax mode, where a whole number may come quoted ("5",
        # " 1_000 ") and true/false count as 1/0: the schema takes what the loader takes.
        exact = super().int_schema(schema)
        if schema.get("strict"):
            return exact
        return {"anyOf": [exact, {"type": "string", "pattern": _INT_TEXT}, {"type": "boolean"}]}


def _summary(spec: Spec) -> str:
    # Spec.summary ends in inspect.getdoc(schema), which inherits a base class's docstring (`join`
    # would read "Base of every YAML-facing model"): only a handler's or model's own docstring counts.
    own = [obj.__doc__ for obj in (spec.func, spec.schema) if obj is not None and obj.__doc__]
    return spec.summary if own else ""


def _draft7(node: Any) -> Any:
    """Pydantic writes 2020-12: spell the few keywords that differ as draft-07 does."""
    if isinstance(node, list):
        return [_draft7(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _draft7(value) for key, value in node.items()}
    if "prefixItems" in out:  # tuples
        rest = out.pop("items", None)
        out["items"] = out.pop("prefixItems")
        if rest is not None:
            out["additionalItems"] = rest
    if "$ref" in out and len(out) > 1:  # draft-07 ignores keywords beside $ref
        out = {"allOf": [{"$ref": out.pop("$ref")}], **out}
    if "default" in out and out["default"] is None:  # editors would complete `between: null`
        del out["default"]
    return out


def _field_key(model: type[BaseModel], name: str) -> str:
    info = model.model_fields[name]
    alias = info.validation_alias if isinstance(info.validation_alias, str) else info.alias
    return alias or name


def _model_schema(spec: Spec, definitions: Schema) -> Schema:
    """The options mapping of one ability; the models it nests go to `definitions`, renamed."""
    prefix = f"{spec.kind}.{spec.name}."
    raw = spec.schema.model_json_schema(
        by_alias=True,
        ref_template="#/definitions/" + prefix + "{model}",
        schema_generator=_InputSchema,
        mode="validation",
    )
    for name, sub in raw.pop("$defs", {}).items():
        definitions[prefix + name] = _draft7(sub)
    options = _draft7(raw)
    ref = options.get("$ref")
    if ref is not None and "properties" not in options:  # a self-referencing model comes as a $ref
        options = copy.deepcopy(definitions[ref.rsplit("/", 1)[-1]])
    options.pop("title", None)  # the class name means nothing to an operator
    return options


def _item(spec: Spec, names: set[str], definitions: Schema) -> Schema:
    """`- NAME: VALUE` plus option keys beside NAME, as builder.py's `_Builder.call` reads an item: NAME's value
    is the primary option, or a mapping of options, or nothing; any option may also come beside NAME."""
    options = _model_schema(spec, definitions)
    summary = _summary(spec)
    props: Schema = options.get("properties", {})
    if spec.body is not None:  # nested actions (for_each's `do`): built by builder.py, not in the pydantic schema
        props[spec.body] = _ref("branch_actions")
        options["properties"] = props
        options["required"] = [*options.get("required", []), spec.body]
    # A required option may be inside NAME's mapping or beside NAME: the item as a whole requires it.
    required: list[str] = options.pop("required", [])
    primary = _field_key(spec.schema, spec.primary) if spec.primary is not None else None

    value: list[Schema] = []
    shorthand: Schema | None = None
    if primary is not None and primary in props:
        shorthand = copy.deepcopy(props[primary])
        shorthand.pop("title", None)
        value.append(shorthand)
    value += [options, {"type": "null"}]  # `- join:` / `- stop:` with nothing after them
    head: Schema = {"anyOf": value}
    if summary:
        head["description"] = summary

    # Options beside NAME: never a key that is itself an ability of the same kind (builder.py would read
    # `- checkin: {}` + `points: 5` as two actions).
    siblings = {
        key: copy.deepcopy(schema)
        for key, schema in props.items()
        if key not in names and not (spec.kind == "action" and key == CHOOSE)
    }
    item: Schema = {
        "title": spec.name,  # editors show it in hovers and completion lists
        "type": "object",
        "properties": {spec.name: head, **siblings},
        "required": [spec.name],
        "additionalProperties": False,
    }
    rules = [_given(spec.name, key, shorthand if key == primary else None) for key in required]
    if primary in siblings:  # `- reply: hi` + `text: hello` gives the text twice
        beside = {"required": [primary]}
        rules.append({"if": beside, "then": {"properties": {spec.name: {"type": ["object", "null"]}}}})
    if rules:
        item["allOf"] = rules
    if summary:
        item["description"] = summary
    return item


def _given(name: str, key: str, shorthand: Schema | None) -> Schema:
    """Option `key` is beside NAME, in NAME's mapping, or (the primary) NAME's own value."""
    ways: list[Schema] = [
        {"required": [key]},
        {"properties": {name: {"type": "object", "required": [key]}}},
    ]
    if shorthand is not None:
        ways.append({"properties": {name: {"not": {"type": ["object", "null"]}}}})
    return {"anyOf": ways}


def _ref(name: str) -> Schema:
    return {"$ref": f"#/definitions/{name}"}


def _one_of(refs: list[Schema]) -> Schema:
    return {"oneOf": refs} if refs else {"not": {}}


def _list_of(name: str, *, empty: bool) -> Schema:
    """A list of items, or one item on its own (builder.py accepts a bare mapping); maybe nothing."""
    choices: list[Schema] = [_ref(name), {"type": "array", "items": _ref(name)}]
    if not empty:
        choices[1]["minItems"] = 1
    else:
        choices.append({"type": "null"})
    return {"anyOf": choices}


def _structure(definitions: Schema) -> None:
    """`choose`: branches of `if` + `do`, then an optional last `else`."""
    definitions["choose.branch"] = {
        "type": "object",
        "description": "Run `do` when every condition of `if` holds; the first branch that holds wins.",
        "properties": {"if": _ref("conditions"), "do": _ref("branch_actions")},
        "required": ["if", "do"],
        "additionalProperties": False,
    }
    definitions["choose.else"] = {
        "type": "object",
        "description": "The last branch: run when no branch above held.",
        "properties": {"else": _ref("branch_actions")},
        "required": ["else"],
        "additionalProperties": False,
    }
    definitions[CHOOSE] = {
        "type": "object",
        "description": "Branch: a list of `- if: [...]` with `do: [...]`, and last `- else: [...]`.",
        "properties": {
            CHOOSE: {
                "type": "array",
                "minItems": 1,
                "items": {"anyOf": [_ref("choose.branch"), _ref("choose.else")]},
            }
        },
        "required": [CHOOSE],
        "additionalProperties": False,
    }


def _resource(spec: ResourceSpec, definitions: Schema) -> Schema:
    """`coupons: [{id: ..., ...}]`, `questions: {bank-id: [{...}]}` or `wordlists: {list-id: [word, ...]}`."""
    if spec.form == "words":
        word = {"type": ["string", "number"]}
        return {
            "description": f"{spec.noun}s by id, shared by every playbook",
            "type": "object",
            "additionalProperties": {"anyOf": [word, {"type": "array", "items": word, "minItems": 1}]},
            "propertyNames": {"pattern": _ID.pattern},
        }
    name = f"resource.{spec.block}"
    raw = spec.schema.model_json_schema(
        by_alias=True, ref_template="#/definitions/" + name + ".{model}", schema_generator=_InputSchema
    )
    for sub_name, sub in raw.pop("$defs", {}).items():
        definitions[f"{name}.{sub_name}"] = _draft7(sub)
    entry = _draft7(raw)
    entry.pop("title", None)
    definitions[name] = entry
    # builder.py takes one entry on its own as a list of one; a bank needs an entry, the coupon list may be empty.
    if spec.form == "list":
        entries = {"anyOf": [_ref(name), {"type": "array", "items": _ref(name)}]}
        return {"description": f"{spec.noun}s, shared by every playbook", **entries}
    entries = {"anyOf": [_ref(name), {"type": "array", "items": _ref(name), "minItems": 1}]}
    return {
        "description": f"{spec.noun}s by id, shared by every playbook",
        "type": "object",
        "additionalProperties": entries,
        "propertyNames": {"pattern": _ID.pattern},
    }


def json_schema(registry: Registry | None = None) -> dict[str, Any]:
    """The JSON Schema (draft-07) of one playbook file, for `# yaml-language-server: $schema=...`."""
    registry = registry or load_abilities()
    definitions: Schema = {}
    tables = {"trigger": registry.triggers, "condition": registry.conditions, "action": registry.actions}
    for kind in KINDS:
        table = tables[kind]
        refs: list[Schema] = []
        for name in sorted(table):
            if kind == "action" and name == CHOOSE:
                continue  # builder.py reads `choose` as structure, never as this action
            definitions[f"{kind}.{name}"] = _item(table[name], set(table), definitions)
            refs.append(_ref(f"{kind}.{name}"))
        if kind == "action":
            refs.append(_ref(CHOOSE))
            # A run pauses only between top-level steps, so builder.py refuses `wait` inside `choose`.
            definitions["branch_action"] = _one_of([r for r in refs if r != _ref(f"action.{WAIT}")])
        definitions[kind] = _one_of(refs)
    definitions["triggers"] = _list_of("trigger", empty=False)
    definitions["conditions"] = _list_of("condition", empty=True)
    definitions["actions"] = _list_of("action", empty=True)
    definitions["branch_actions"] = _list_of("branch_action", empty=True)
    _structure(definitions)

    text: Schema = {"type": ["string", "number", "boolean"]}  # builder.py takes a str, int or float (a bool is an int)
    top: dict[str, Schema] = {
        "id": {
            "type": "string",
            "pattern": _ID.pattern,
            "description": "Short unique id: lower-case letters, digits and '-', like daily-checkin.",
        },
        "name": {**text, "description": "A title for people; defaults to the id."},
        "description": {**text, "description": "What this playbook is for."},
        "enabled": {"type": "boolean", "default": True, "description": "false switches the playbook off."},
        "rooms": {
            "description": "Room topics, room ids or tag:NAME it applies to; default: every managed room.",
            "anyOf": [
                {"type": "string"},
                {"type": "array", "items": {"type": ["string", "integer", "boolean"]}},
            ],
        },
        "when": {**_ref("triggers"), "description": "What starts this playbook (any one trigger)."},
        "if": {**_ref("conditions"), "description": "Conditions that must all hold."},
        "do": {**_ref("actions"), "description": "What the bot does, in order."},
    }
    return {
        "$schema": DRAFT,
        "title": "Qunguan playbook",
        "description": "One playbook: `id`, what starts it (`when`), conditions (`if`) and actions (`do`).",
        "type": "object",
        # A top-level key builder.py knows but this file does not is let through, not refused.
        "properties": {
            **{key: _draft7(top.get(key, {})) for key in TOP_KEYS},
            **{block: _resource(spec, definitions) for block, spec in registry.resources.items()},
        },
        "required": ["id", "when", "do"],
        "additionalProperties": False,
        "definitions": definitions,
    }
