#!/usr/bin/env python3
"""Generate ci-deployer's JSON Schemas (Draft 2020-12) from Vapi's OpenAPI spec.

Usage::

    python scripts/gen_schemas.py [--spec PATH] [--out DIR]

``--spec`` defaults to ``scripts/vapi-openapi.json``, the committed copy of Vapi's published spec
(VapiAI/docs ``fern/apis/api/openapi.json``, 2026-08; replace the file to move to a newer one), and
``--out`` to ``<repo>/schemas``.  The output is committed: the package and its users never need the
OpenAPI spec.  Output is deterministic (sorted keys, two-space indent, trailing newline), so running
the script twice changes nothing and a test can compare a fresh run with the committed files.

What it writes::

    schemas/envelope.schema.json          the document envelope (apiVersion, kind, metadata, policies, spec, documents)
    schemas/environments.schema.json      environments.yaml
    schemas/document.schema.json          envelope + spec chosen by kind (for editors)
    schemas/spec/<kind>.schema.json       each kind's create payload
    schemas/spec/<kind>.update.schema.json  the same for PATCH bodies (top-level ``required`` relaxed)
    schemas/spec/policy.schema.json       any object (a spec fragment)
    schemas/refs.json                     where each kind's payload holds ids of other resources

The id fields are derived, not listed: :class:`RefDeriver` walks each kind's create payload through
every ``$ref``, ``oneOf``/``anyOf``/``allOf`` and array and finds the properties whose name or
description marks an id.  Each must be classified in ``ci_deployer/platform/kinds.py`` (resolved to
target kinds, or excluded with a reason), or the script stops naming it: a new Vapi spec cannot
add an id field that config would silently send as a raw slug.  Resolved fields are widened to
take a slug, a UUID or ``{ref: kind/slug}``, wherever they are nested.

Taken literally, Vapi's spec rejects valid payloads (see the reference notes, "schema traps").  The
conversion below fixes each trap where it happens; every fix names the fact it relies on.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SPEC = REPO / "scripts" / "vapi-openapi.json"  # a copy of ../shared/reference/vapi-openapi.json

sys.path.insert(0, str(REPO))  # run from a checkout without installing the package

from ci_deployer.platform.kinds import DOCUMENT_KINDS, ID_FIELDS, ID_FIELDS_EXCLUDED, KINDS  # noqa: E402

DRAFT = "https://json-schema.org/draft/2020-12/schema"
COMPONENTS = "#/components/schemas/"
DEFS = "#/$defs/"

SLUG = "^[a-z0-9][a-z0-9-]{0,39}$"
UUID = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# The title marks the widened reference type; the runtime uses it to word its error message.
REF_TITLE = "ci-deployer reference"
REF_DEF = "CiDeployerReference"

# Create payload per kind (POST body).  Tool and PhoneNumber are built separately below.
CREATE_DTO = {
    "Assistant": "CreateAssistantDTO",
    "Squad": "CreateSquadDTO",
    "StructuredOutput": "CreateStructuredOutputDTO",
    "KnowledgeBase": "CreateKnowledgeBaseV2DTO",
    "Eval": "CreateEvalDTO",
}
# PATCH bodies: the update variant keeps these DTOs' `required` (UpdateSquadDTO requires `members`:
# every squad PATCH sends the full member list; vapi-api.md "Create/Update shapes").
UPDATE_DTO = {
    "Assistant": "UpdateAssistantDTO",
    "Squad": "UpdateSquadDTO",
    "StructuredOutput": "UpdateStructuredOutputDTO",
    "KnowledgeBase": "UpdateKnowledgeBaseV2DTO",
    "Eval": "UpdateEvalDTO",
}
# Routing fields of a bought number, as in Update*PhoneNumberDTO (the number itself is bought outside).
PHONE_ROUTING_FIELDS = ("name", "assistantId", "squadId", "server")
E164 = r"^\+[1-9][0-9]{1,14}$"

# Tool DTOs that take a `function` block although the spec omits it (see build_specs).
FUNCTION_TOOLS = ("CreateApiRequestToolDTO", "CreateTransferCallToolDTO", "CreateEndCallToolDTO")

# Objects whose content is user-written JSON Schema (tool parameters, structured-output schemas).
# The spec lists a subset of JSON Schema keywords; users legitimately write others (minimum,
# additionalProperties, items of arrays…), which the LLM understands, so these stay open.
OPEN_OBJECTS = frozenset({"JsonSchema", "OpenAIFunctionParameters"})

# Properties that may select a `oneOf` branch, in order of preference after the spec's own
# `discriminator` (model/voice/transcriber by `provider`, tools/destinations by `type`, eval
# messages by `role`, hooks by `on`).
DISCRIMINATOR_CANDIDATES = ("type", "provider", "role", "on")

DROP_KEYS = frozenset({"example", "examples", "discriminator", "title", "xml", "externalDocs"})


# --------------------------------------------------------------------------- OpenAPI → JSON Schema


def fix_pattern(pattern: str, where: str) -> str | None:
    """Return a Python-``re``-compatible pattern for an OpenAPI ``pattern``, or None to drop it."""
    # Vapi writes JavaScript regex literals: "/^[a-zA-Z0-9_-]{1,64}$/" (and "/…/u").  Taken
    # literally, "lookup_invoice" fails; the delimiters and flags are not part of the pattern.
    m = re.fullmatch(r"/(.*)/([a-z]*)", pattern, re.DOTALL)
    if m:
        pattern = m.group(1)
    # `\p{L}` (any letter, JS `u` flag) is unknown to Python `re`.  `[^\W\d_]` is "a word
    # character that is neither a digit nor `_`", i.e. a letter, in Python and in JS alike; inside
    # a class `[\p{L}\d]` becomes `[^\W_]` (letters and digits).
    pattern = pattern.replace(r"[\p{L}\d]", r"[^\W_]").replace(r"\p{L}", r"[^\W\d_]")
    # One "pattern" is the bare constant name ORG_ROLE_OR_CUSTOM_ROLE_PATTERN (a spec bug: the
    # server-side constant's name leaked instead of its value).  A pattern without any regex syntax
    # that is an upper-case identifier is such a leak: drop it rather than reject every value.
    if re.fullmatch(r"[A-Z][A-Z0-9_]+", pattern):
        print(f"note: dropped pattern {pattern!r} at {where} (a constant's name, not a regex)", file=sys.stderr)
        return None
    try:
        re.compile(pattern)
    except re.error as exc:
        print(f"note: dropped pattern {pattern!r} at {where}: {exc}", file=sys.stderr)
        return None
    return pattern


def short_description(text: str) -> str:
    """The first paragraph, at most ~300 characters: enough for an editor's hover, and it keeps the
    committed files a few hundred KB instead of megabytes (the spec's descriptions run to pages)."""
    first = text.strip().split("\n\n", 1)[0].strip()
    if len(first) > 300:
        first = first[:297].rsplit(" ", 1)[0] + "…"
    return first


class Converter:
    """Converts ``components.schemas`` entries to Draft 2020-12 with the traps fixed."""

    def __init__(self, components: dict[str, Any]) -> None:
        self.raw = components

    def branch_name(self, branch: dict[str, Any]) -> str | None:
        ref = branch.get("$ref")
        return ref[len(COMPONENTS) :] if isinstance(ref, str) and ref.startswith(COMPONENTS) else None

    def discriminator(self, node: dict[str, Any], names: list[str]) -> str | None:
        """The property whose enum values pick a branch: present with an enum in every branch."""
        declared = node.get("discriminator", {}).get("propertyName")
        for prop in (declared, *DISCRIMINATOR_CANDIDATES):
            if prop and all("enum" in self.raw[n].get("properties", {}).get(prop, {}) for n in names):
                return str(prop)
        return None

    def union(self, node: dict[str, Any], where: str) -> dict[str, Any]:
        """Replace an OpenAPI ``oneOf``.

        Vapi's ``oneOf`` branches overlap (eval messages: a mock and an evaluation both have
        ``role: assistant``; squad destinations: TransferDestinationAssistant and
        HandoffDestinationAssistant both have ``type: assistant``), so a strict ``oneOf`` rejects
        valid payloads as "valid under each of".  When the branches carry a discriminator the
        union becomes ``if/then`` per value: only the chosen branch is checked, so an error names
        that branch's fields (``model.model`` of the openai branch), not 17 providers' failures.
        Branches sharing a value, and unions without a discriminator, become ``anyOf``.
        """
        branches: list[dict[str, Any]] = node["oneOf"]
        names = [self.branch_name(b) for b in branches]
        if len(branches) == 1:
            single: dict[str, Any] = self.convert(branches[0], where)
            return single
        if any(n is None for n in names):
            return {"anyOf": [self.convert(b, f"{where}/anyOf/{i}") for i, b in enumerate(branches)]}
        refs: list[str] = [n for n in names if n is not None]
        prop = self.discriminator(node, refs)
        if prop is None:
            return {"anyOf": [{"$ref": DEFS + n} for n in refs]}
        by_value: dict[Any, list[str]] = {}
        optional: list[str] = []
        for n in refs:
            for value in self.raw[n]["properties"][prop]["enum"]:
                by_value.setdefault(value, []).append(n)
            if prop not in self.raw[n].get("required", []):
                optional.append(n)
        rules: list[dict[str, Any]] = []
        for value, targets in by_value.items():
            then: dict[str, Any] = (
                {"$ref": DEFS + targets[0]} if len(targets) == 1 else {"anyOf": [{"$ref": DEFS + t} for t in targets]}
            )
            rules.append({"if": {"properties": {prop: {"const": value}}, "required": [prop]}, "then": then})
        out: dict[str, Any] = {
            "type": "object",
            "properties": {prop: {"enum": list(by_value)}},
            "allOf": rules,
        }
        if optional:
            # The discriminator may be omitted in these branches (e.g. a BYO SIP trunk credential).
            branch_refs = [{"$ref": DEFS + n} for n in optional]
            then_absent = branch_refs[0] if len(branch_refs) == 1 else {"anyOf": branch_refs}
            rules.append({"if": {"not": {"required": [prop]}}, "then": then_absent})
        else:
            out["required"] = [prop]
        return out

    def branch_values(self, branch: dict[str, Any]) -> list[Any] | None:
        """The values a ``oneOf`` branch allows (its ``enum`` or ``const``), None when unconstrained."""
        name = self.branch_name(branch)
        target = self.raw[name] if name is not None else branch
        if "enum" in target:
            return list(target["enum"])
        if "const" in target:
            return [target["const"]]
        return None

    def without_shadowing_enum(self, node: dict[str, Any], where: str) -> dict[str, Any]:
        """Drop an ``enum`` written beside a ``oneOf`` whose branches each list their own values.

        NestJS-swagger writes ``@ApiProperty({enum, oneOf})`` as both keywords side by side, and
        JSON Schema applies both: ``VapiVoice.version`` has ``enum: ["1", "2", "latest"]`` beside
        ``oneOf: [{type: string, enum: ["1", "2", "latest"]}, {type: number, enum: [1, 2]}]``, so the
        legacy numbers its description says Vapi accepts ("legacy numeric values (1, 2) are also
        accepted and coerced to their string form") were rejected, with the confusing message
        "2 is not one of 1, 2, latest".  The branches are the property's real type: the sibling
        is dropped when every branch constrains its values (``LMNTVoice.language``: the sibling
        only repeats the union of its two branches).  Otherwise both stay, with a note.
        """
        values = [self.branch_values(b) for b in node["oneOf"] if isinstance(b, dict)]
        if len(values) != len(node["oneOf"]) or any(v is None for v in values):
            print(f"note: kept enum beside oneOf at {where} (a branch has no enum of its own)", file=sys.stderr)
            return node
        allowed = {json.dumps(v) for branch in values for v in branch or ()}
        extra = [v for v in node["enum"] if json.dumps(v) not in allowed]
        if extra:
            print(f"note: enum beside oneOf at {where} lists {extra} that no branch allows", file=sys.stderr)
        return {k: v for k, v in node.items() if k != "enum"}

    def convert(self, node: Any, where: str, *, open_object: bool = False) -> Any:
        """Convert one schema node (recursively)."""
        if not isinstance(node, dict):
            return node
        node = {k: v for k, v in node.items() if k not in DROP_KEYS and not k.startswith("x-")}
        nullable = node.pop("nullable", False) is True
        if node.get("type") == "array" and "enum" in node:
            # NestJS-swagger writes `@IsEnum(…, {each: true})` as an array-level `enum` (e.g.
            # `serverMessages`); read literally, no array is one of those strings.  It lists the
            # allowed items.
            values = node.pop("enum")
            items = dict(node.get("items") or {})
            items.setdefault("enum", values)
            node["items"] = items
        if "oneOf" in node:
            if "enum" in node:
                node = self.without_shadowing_enum(node, where)
            union = self.union(node, where)
            merged: dict[str, Any] = self.convert({k: v for k, v in node.items() if k != "oneOf"}, where)
            for key, value in union.items():
                if key in ("allOf", "anyOf") and key in merged:
                    merged[key] = [*merged[key], *value]
                elif key == "$ref" and "$ref" in merged:
                    if merged["$ref"] != value:  # e.g. observabilityPlan: oneOf and allOf name one def
                        merged["allOf"] = [*merged.get("allOf", []), {"$ref": value}]
                else:
                    merged[key] = value
            return self.nullable(merged) if nullable else merged
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$ref":
                name = value[len(COMPONENTS) :] if value.startswith(COMPONENTS) else None
                if name is None:
                    raise SystemExit(f"unsupported $ref {value!r} at {where}")
                out["$ref"] = DEFS + name
            elif key == "pattern" and isinstance(value, str):
                fixed = fix_pattern(value, where)
                if fixed is not None:
                    out["pattern"] = fixed
            elif key == "description" and isinstance(value, str):
                out["description"] = short_description(value)
            elif key == "properties":
                out["properties"] = {p: self.convert(s, f"{where}/properties/{p}") for p, s in value.items()}
            elif key in ("items", "not") or (key == "additionalProperties" and isinstance(value, dict)):
                out[key] = self.convert(value, f"{where}/{key}")
            elif key in ("allOf", "anyOf"):
                out[key] = [self.convert(s, f"{where}/{key}/{i}") for i, s in enumerate(value)]
            else:
                out[key] = copy.deepcopy(value)
        # `allOf: [{$ref}]` is how NestJS-swagger attaches a description to a reference; in 2020-12
        # a `$ref` may have siblings, and a direct `$ref` keeps error paths short.
        if len(out.get("allOf", [])) == 1 and set(out["allOf"][0]) == {"$ref"} and "$ref" not in out:
            out["$ref"] = out.pop("allOf")[0]["$ref"]
        # Vapi validates bodies with class-validator's `forbidNonWhitelisted`: an unknown property
        # is a 400 "property X should not exist" (vapi-api.md "Server-managed fields").
        closable = out.get("type") == "object" and "properties" in out and "additionalProperties" not in out
        if closable and not open_object:
            out["additionalProperties"] = False
        return self.nullable(out) if nullable else out

    @staticmethod
    def nullable(node: dict[str, Any]) -> dict[str, Any]:
        """OpenAPI 3.0 ``nullable: true`` → a type union (or ``anyOf`` with null)."""
        t = node.get("type")
        if isinstance(t, str) and "$ref" not in node and "allOf" not in node and "anyOf" not in node:
            node = {**node, "type": [t, "null"]}
            if "enum" in node and None not in node["enum"]:
                node["enum"] = [*node["enum"], None]
            return node
        description = node.pop("description", None)
        out: dict[str, Any] = {"anyOf": [node, {"type": "null"}]}
        if description is not None:
            out["description"] = description
        return out

    def convert_def(self, name: str) -> dict[str, Any]:
        return self.convert(self.raw[name], name, open_object=name in OPEN_OBJECTS)  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- reference widening


def reference_def() -> dict[str, Any]:
    """A field that holds another resource's id: a slug, a UUID, or ``{ref: kind/slug}``."""
    return {
        "title": REF_TITLE,
        "description": "A slug of the referenced resource (or a UUID), or {ref: kind/slug}.",
        "anyOf": [
            {"type": "string", "pattern": f"^(?:[a-z0-9][a-z0-9-]{{0,39}}|{UUID})$"},
            {
                "type": "object",
                "properties": {"ref": {"type": "string", "pattern": "^[A-Za-z][A-Za-z-]*/[a-z0-9][a-z0-9-]{0,39}$"}},
                "required": ["ref"],
                "additionalProperties": False,
            },
        ],
    }


# A property holds the id of another resource when its name says so (`toolIds`, `assistantId`,
# `tool_call_id`, `id`) or its description does ("This is the ID of the tool call …").
ID_NAME = re.compile(r"(?:^id|^ids|Id|Ids|ID|IDs|_id|_ids)$")
ID_DESCRIPTION = re.compile(r"\b(?:IDs?|ids?)\s+(?:of|for)\b")


def is_id_field(name: str, schema: Any) -> bool:
    """Whether Vapi's spec marks property ``name`` (with ``schema``) as holding an id."""
    if ID_NAME.search(name):
        return True
    description = schema.get("description") if isinstance(schema, dict) else None
    if not isinstance(description, str):
        return False
    return bool(ID_DESCRIPTION.search(description.strip().split("\n", 1)[0]))


class RefDeriver:
    """Derives where ids sit in each kind's payload, from Vapi's OpenAPI spec (DESIGN §2 References).

    The result is a graph: a *node* is a component schema (``OpenAIModel``) or an inline object
    schema (named ``Owner.property``); a node maps property names to either the kinds an id there
    names (``{"ids": ["Tool", "KnowledgeBase"]}``) or the nodes its value may be (``{"to": […]}``).
    ``$ref``, ``oneOf``/``anyOf``/``allOf`` and array ``items`` are followed, so a value may be
    several nodes at once (a model is one of 17 providers'): the runtime walks the data with a set
    of nodes.  Only nodes that lead to a resolved id are kept.

    Each id-marked property is classified by ``resolved`` (name → target kinds) or ``excluded``
    (name or ``Node.name`` → reason); the ones that are neither land in :attr:`unclassified`.
    """

    def __init__(self, raw: dict[str, Any], resolved: dict[str, tuple[str, ...]], excluded: dict[str, str]) -> None:
        self.raw = raw
        self.resolved = resolved
        self.excluded = excluded
        self.props: dict[str, list[dict[str, Any]]] = {}  # node → its property maps (raw: widened in place)
        self.edges: dict[str, dict[str, dict[str, Any]]] = {}
        self.unclassified: dict[str, str] = {}  # "Node.property" → description
        self.excluded_seen: dict[str, str] = {}  # "Node.property" → reason
        self.resolved_seen: dict[str, set[str]] = {}  # property name → nodes it was found in

    def nodes_of(self, schema: Any, inline_name: str) -> set[str]:
        """The nodes a value described by ``schema`` may be (registering inline object schemas)."""
        out: set[str] = set()

        def visit(node: Any, name: str) -> None:
            if not isinstance(node, dict):
                return
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(COMPONENTS):
                target = ref[len(COMPONENTS) :]
                if target not in out:
                    out.add(target)
                    visit(self.raw[target], target)
                return
            for key in ("allOf", "oneOf", "anyOf"):
                for branch in node.get(key, []):
                    visit(branch, name)
            if isinstance(node.get("items"), dict):
                visit(node["items"], name)  # arrays are transparent: the items sit at the same node
            if isinstance(node.get("properties"), dict):
                # Several inline branches may share one name: keep each property set.
                sets = self.props.setdefault(name, [])
                if not any(p is node["properties"] for p in sets):
                    sets.append(node["properties"])
                out.add(name)

        visit(schema, inline_name)
        return out

    def classify(self, node: str, prop: str) -> tuple[str, ...] | str | None:
        """Target kinds, an exclusion reason, or None when unclassified."""
        qualified = f"{node}.{prop}"
        if qualified in self.excluded:
            return self.excluded[qualified]
        if prop in self.resolved:
            return self.resolved[prop]
        return self.excluded.get(prop)

    def derive(self, roots: dict[str, list[dict[str, Any]]], root_names: dict[str, str]) -> dict[str, Any]:
        """The table for ``roots`` (kind → root schemas; ``root_names`` names inline roots)."""
        kind_roots = {
            kind: sorted(set().union(*(self.nodes_of(r, root_names.get(kind, kind)) for r in schemas)))
            for kind, schemas in roots.items()
        }
        done: set[str] = set()
        todo = [n for names in kind_roots.values() for n in names]
        while todo:
            node = todo.pop()
            if node in done:
                continue
            done.add(node)
            edges: dict[str, dict[str, Any]] = {}
            merged = {p: schema for props in self.props.get(node, []) for p, schema in props.items()}
            for prop, schema in sorted(merged.items()):
                if is_id_field(prop, schema):
                    verdict = self.classify(node, prop)
                    where = f"{node}.{prop}"
                    if verdict is None:
                        description = schema.get("description", "") if isinstance(schema, dict) else ""
                        self.unclassified[where] = short_description(str(description))
                    elif isinstance(verdict, str):
                        self.excluded_seen[where] = verdict
                    else:
                        edges[prop] = {"ids": list(verdict)}
                        self.resolved_seen.setdefault(prop, set()).add(node)
                    continue
                children = self.nodes_of(schema, f"{node}.{prop}")
                if children:
                    edges[prop] = {"to": sorted(children)}
                    todo.extend(children)
            self.edges[node] = edges
        useful = self._useful()
        nodes = {}
        for node in sorted(useful):
            kept = {}
            for prop, edge in self.edges[node].items():
                if "ids" in edge:
                    kept[prop] = edge
                else:
                    to = [n for n in edge["to"] if n in useful]
                    if to:
                        kept[prop] = {"to": to}
            nodes[node] = kept
        return {
            "roots": {kind: [n for n in names if n in useful] for kind, names in sorted(kind_roots.items())},
            "nodes": nodes,
            "excluded": dict(sorted(self.excluded_seen.items())),
        }

    def _useful(self) -> set[str]:
        """Nodes from which a resolved id can be reached."""
        useful = {n for n, edges in self.edges.items() if any("ids" in e for e in edges.values())}
        changed = True
        while changed:
            changed = False
            for node, edges in self.edges.items():
                if node not in useful and any(t in useful for e in edges.values() for t in e.get("to", ())):
                    useful.add(node)
                    changed = True
        return useful

    def widen(self) -> int:
        """Make every resolved id field accept a reference (slug, UUID or ``{ref: kind/slug}``).

        Widening the component in place widens it wherever it is used: the same fields resolve
        wherever they are nested.  Returns the number of fields widened.
        """
        count = 0
        for prop, nodes in self.resolved_seen.items():
            for node in nodes:
                for container in self.props[node]:
                    if prop in container:
                        container[prop] = widened_field(container[prop])
                        count += 1
        return count


def widened_field(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` (a string id, or an array of them) accepting a reference instead."""
    if schema.get("title") == REF_TITLE or schema.get("$ref") == COMPONENTS + REF_DEF:
        return schema
    if schema.get("type") == "array" or "items" in schema:
        return {**schema, "items": widened_field(dict(schema.get("items") or {}))}
    out: dict[str, Any] = {"$ref": COMPONENTS + REF_DEF}
    if "description" in schema:
        out["description"] = schema["description"]
    if schema.get("nullable"):
        # null detaches: a phone number with `assistantId: null` routes nowhere.
        out = {"anyOf": [out, {"type": "null"}]}
    return out


def derive_refs(spec: dict[str, Any]) -> tuple[RefDeriver, dict[str, Any]]:
    """Run the derivation on a copy of ``spec``'s components: ``(deriver, table)``.

    The deriver's ``unclassified`` lists the id-marked properties that ``kinds.ID_FIELDS`` neither
    resolves nor ``kinds.ID_FIELDS_EXCLUDED`` excludes.
    """
    raw = copy.deepcopy(spec["components"]["schemas"])
    deriver = RefDeriver(raw, ID_FIELDS, ID_FIELDS_EXCLUDED)
    roots, names, _ = kind_roots(spec, raw)
    return deriver, deriver.derive(roots, names)


def kind_roots(
    spec: dict[str, Any], raw: dict[str, Any]
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str], dict[str, Any]]:
    """Each kind's payload root schemas (raw form), inline root names, and the phone routing root."""
    phone_root = {
        "type": "object",
        "properties": {f: raw["UpdateTwilioPhoneNumberDTO"]["properties"][f] for f in PHONE_ROUTING_FIELDS},
    }
    roots: dict[str, list[dict[str, Any]]] = {
        "Tool": [{"$ref": COMPONENTS + n} for n in tool_branches(spec)],
        "PhoneNumber": [phone_root],
        **{k: [{"$ref": COMPONENTS + v}] for k, v in CREATE_DTO.items()},
    }
    missing = set(KINDS) - set(roots)
    if missing:
        raise SystemExit(f"gen_schemas.py: no payload root for kinds {sorted(missing)}")
    return roots, {"PhoneNumber": "PhoneNumberRouting"}, phone_root


def check_refs(deriver: RefDeriver) -> None:
    """Stop when the spec has id fields nobody classified, or kinds.py names fields the spec lacks."""
    problems = []
    for where, description in sorted(deriver.unclassified.items()):
        problems.append(f"  {where}: {description or '(no description)'}")
    if problems:
        raise SystemExit(
            "Vapi's spec has id fields that ci_deployer/platform/kinds.py neither resolves (ID_FIELDS) "
            "nor excludes (ID_FIELDS_EXCLUDED, with a reason):\n" + "\n".join(problems)
        )
    stale = sorted(set(ID_FIELDS) - set(deriver.resolved_seen))
    if stale:
        raise SystemExit(f"kinds.py ID_FIELDS names fields no kind's payload has in Vapi's spec: {stale}")


# --------------------------------------------------------------------------- reachability


def refs_in(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(DEFS):
                yield value[len(DEFS) :]
            else:
                yield from refs_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs_in(value)


def with_defs(root: dict[str, Any], defs: dict[str, Any], *, title: str) -> dict[str, Any]:
    """``root`` plus only the ``$defs`` it reaches, as a standalone schema document."""
    reached: set[str] = set()
    stack = list(refs_in(root))
    while stack:
        name = stack.pop()
        if name in reached:
            continue
        reached.add(name)
        stack.extend(refs_in(defs[name]))
    doc = {"$schema": DRAFT, "title": title, **root}
    if reached:
        doc["$defs"] = {n: defs[n] for n in sorted(reached)}
    return doc


def rebase_refs(node: Any, target: str) -> Any:
    """Point local ``#/$defs/X`` refs at ``target#/$defs/X``."""
    if isinstance(node, dict):
        return {
            k: (target + v if k == "$ref" and isinstance(v, str) and v.startswith(DEFS) else rebase_refs(v, target))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [rebase_refs(v, target) for v in node]
    return node


def strip_required(node: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in node.items() if k != "required"}


def patch_body(node: dict[str, Any], keep_required: list[str] | None = None) -> dict[str, Any]:
    """A PATCH body: top-level fields optional and nullable.

    ci-deployer sends a top-level field removed from the config as `null` (DESIGN §5), and Vapi's
    class-validator `@IsOptional()` treats null like a missing value, so null passes there.
    """
    out = strip_required(node)
    required = [r for r in keep_required or [] if r in out.get("properties", {})]
    out["properties"] = {
        name: (prop if name in required else Converter.nullable(copy.deepcopy(prop)))
        for name, prop in out.get("properties", {}).items()
    }
    if required:
        out["required"] = required
    return out


# --------------------------------------------------------------------------- the kinds' spec schemas


def tool_branches(spec: dict[str, Any]) -> list[str]:
    """The tool create DTOs of ``POST /tool`` (oneOf by ``type``)."""
    body = spec["paths"]["/tool"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    names = [b["$ref"][len(COMPONENTS) :] for b in body["oneOf"]]
    # `KnowledgeBaseTool` (type knowledgeBase) is listed by GET but cannot be POSTed: Vapi generates
    # it for each knowledge base (vapi-api.md "Create/Update shapes").
    return [n for n in names if n != "CreateKnowledgeBaseToolDTO"]


def tool_schema(raw: dict[str, Any], defs: dict[str, Any], names: list[str], *, update: bool) -> dict[str, Any]:
    """The tool union by ``type``; in update mode each branch has no top-level ``required``."""
    rules: list[dict[str, Any]] = []
    values: list[str] = []
    for name in names:
        value = raw[name]["properties"]["type"]["enum"][0]
        values.append(value)
        then: dict[str, Any] = patch_body(defs[name]) if update else {"$ref": DEFS + name}
        rules.append({"if": {"properties": {"type": {"const": value}}, "required": ["type"]}, "then": then})
    root: dict[str, Any] = {
        "description": "A Vapi tool: the body of POST /tool, chosen by `type`.",
        "type": "object",
        "properties": {"type": {"enum": values}},
        "allOf": rules,
    }
    if update:
        # PATCH bodies carry no `type` (Vapi rejects it; kinds.patch_drop); callers pass the stored
        # tool's type to pick the branch.  Without it, any branch may match.
        root["description"] = "A Vapi tool PATCH body (pass the stored `type` to pick the branch)."
        root["allOf"].append(
            {"if": {"not": {"required": ["type"]}}, "then": {"anyOf": [patch_body(defs[n]) for n in names]}}
        )
    else:
        root["required"] = ["type"]
    return root


def phone_number_schema(defs: dict[str, Any], *, update: bool) -> dict[str, Any]:
    """Routing fields of a bought number (UpdateTwilioPhoneNumberDTO's), keyed by its E.164 number."""
    source = defs["UpdateTwilioPhoneNumberDTO"]["properties"]
    props: dict[str, Any] = {
        "number": {
            "type": "string",
            "pattern": E164,
            "description": "The bought number in E.164 form (+14155550123); identifies the live phone number.",
        },
    }
    for field_name in PHONE_ROUTING_FIELDS:
        props[field_name] = source[field_name]
    root: dict[str, Any] = {
        "description": "Routing of a phone number bought outside ci-deployer (Vapi PATCH /phone-number/{id}).",
        "type": "object",
        "properties": props,
        "additionalProperties": False,
    }
    return patch_body(root) if update else {**root, "required": ["number"]}


def build_specs(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    raw = copy.deepcopy(spec["components"]["schemas"])
    raw[REF_DEF] = reference_def()
    roots, names, phone_root = kind_roots(spec, raw)
    deriver = RefDeriver(raw, ID_FIELDS, ID_FIELDS_EXCLUDED)
    table = deriver.derive(roots, names)
    check_refs(deriver)
    deriver.widen()
    # The phone root's properties are a shallow copy of the routing DTO's: copy the widened fields
    # back so the converter sees them.
    for f in PHONE_ROUTING_FIELDS:
        raw["UpdateTwilioPhoneNumberDTO"]["properties"][f] = phone_root["properties"][f]

    # The spec lists `function` (name, description, parameters, strict) only on function, code and
    # handoff tools, but Vapi accepts it on apiRequest, transferCall and endCall tools too: it
    # "removes `strict`" from them and ignores `function.parameters` on apiRequest (VapiAI/gitops
    # docs/learnings/tools.md), and gitops' own transferCall example sets `function.name`.
    for name in FUNCTION_TOOLS:
        raw[name]["properties"].setdefault(
            "function", {"allOf": [{"$ref": COMPONENTS + "OpenAIFunction"}], "description": "The tool's function."}
        )

    conv = Converter(raw)
    defs = {name: conv.convert_def(name) for name in raw}
    defs[REF_DEF] = reference_def()  # already JSON Schema; keep the title marker

    out: dict[str, dict[str, Any]] = {}
    for kind_name, kind in KINDS.items():
        stem = kind.schema
        for update in (False, True):
            if kind_name == "Tool":
                root = tool_schema(raw, defs, tool_branches(spec), update=update)
            elif kind_name == "PhoneNumber":
                root = phone_number_schema(defs, update=update)
            else:
                root = copy.deepcopy(defs[CREATE_DTO[kind_name]])
                if update:
                    root = patch_body(root, raw.get(UPDATE_DTO[kind_name], {}).get("required", []))
            if update:
                # The PATCH variant shares the create file's $defs (relative refs, offline) instead of
                # repeating a megabyte of them.
                create = out[f"spec/{stem}.schema.json"]
                missing = set(refs_in(root)) - set(create.get("$defs", {}))
                if missing:
                    raise SystemExit(
                        f"{kind_name} update schema reaches defs the create schema lacks: {sorted(missing)}"
                    )
                doc = {
                    "$schema": DRAFT,
                    "title": f"{kind_name} spec (PATCH body)",
                    **rebase_refs(root, f"{stem}.schema.json"),
                }
                out[f"spec/{stem}.update.schema.json"] = doc
            else:
                out[f"spec/{stem}.schema.json"] = with_defs(root, defs, title=f"{kind_name} spec (create payload)")
    out["refs.json"] = {
        "$comment": (
            "Generated by scripts/gen_schemas.py from Vapi's OpenAPI spec: where each kind's payload holds "
            "ids of other resources (read by ci_deployer/platform/reftable.py)."
        ),
        **table,
    }
    out["spec/policy.schema.json"] = {
        "$schema": DRAFT,
        "title": "Policy spec (a fragment merged into documents' spec)",
        "type": "object",
    }
    return out


# --------------------------------------------------------------------------- ci-deployer's own files


def slug(description: str) -> dict[str, Any]:
    return {"type": "string", "pattern": SLUG, "maxLength": 40, "description": description}


def envelope_schema() -> dict[str, Any]:
    return {
        "$schema": DRAFT,
        "title": "ci-deployer document envelope",
        "type": "object",
        "properties": {
            "apiVersion": {"const": "ci-deployer/v1"},
            "kind": {"enum": list(DOCUMENT_KINDS)},
            "metadata": {
                "type": "object",
                "properties": {
                    "name": slug("The slug: unique per kind, [a-z0-9-], at most 40 characters."),
                    "previousNames": {
                        "type": "array",
                        "items": slug("A former slug: renaming keeps the live resource."),
                        "uniqueItems": True,
                    },
                    "description": {"type": "string"},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "environments": {
                        "type": "array",
                        "items": {"type": "string", "minLength": 1},
                        "uniqueItems": True,
                        "description": "The environments this resource exists in (default: all).",
                    },
                },
                "required": ["name"],
                "additionalProperties": False,
            },
            "policies": {
                "type": "array",
                "items": slug("A Policy document's slug, merged into spec in the listed order."),
            },
            "spec": {"type": "object"},
            "test": test_block_schema(),
            "smoke": smoke_schema(),
            "documents": documents_block(),
        },
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
        # `documents:` belongs to knowledge bases (a query tool names a file as {document: PATH}).
        "allOf": [
            {
                "if": {"properties": {"kind": {"not": {"const": "KnowledgeBase"}}}, "required": ["kind"]},
                "then": {"not": {"required": ["documents"]}},
            }
        ],
    }


def documents_block() -> dict[str, Any]:
    """A KnowledgeBase's files (ci_deployer/config/documents.py holds the rules this describes)."""
    from ci_deployer.config.documents import MAX_FILE_BYTES, TYPES

    types = " ".join(sorted(TYPES))
    path = {"type": "string", "minLength": 1, "description": "A path or glob (*, ?, [...], **) under --config."}
    exact = {
        "type": "object",
        "properties": {"file": {"type": "string", "minLength": 1, "description": "Exactly this file (no glob)."}},
        "required": ["file"],
        "additionalProperties": False,
    }
    return {
        "type": ["array", "null"],
        "items": {"oneOf": [path, exact]},
        "description": (
            "KnowledgeBase only: the files Vapi indexes for the base, relative to the --config folder "
            f"(not to this document). Types: {types}; at most {MAX_FILE_BYTES // (1024 * 1024)} MiB each. "
            "Each file is uploaded once per content hash, attached, and detached and deleted when no "
            "longer listed; [] detaches every document, no key leaves the base's documents alone."
        ),
    }


def test_block_schema() -> dict[str, Any]:
    """An Eval's ``test:`` block (ci_deployer/config/behaviour.py): where and against what it runs."""
    return {
        "type": "object",
        "description": "Eval only: the behavioural test this eval is (`ci-deployer test`).",
        "properties": {
            "targets": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "string",
                    "pattern": "^(assistant|squad)/[a-z0-9][a-z0-9-]{0,39}$",
                    "description": "assistant/SLUG or squad/SLUG: what the eval runs against, per environment.",
                },
            },
            "environments": {
                "type": "array",
                "items": {"type": "string", "minLength": 1},
                "uniqueItems": True,
                "description": "Where the test runs (default: every environment without protection).",
            },
            "canary": {
                "type": "boolean",
                "description": "Also run in protected environments right after an apply.",
            },
        },
        "required": ["targets"],
        "additionalProperties": False,
    }


def smoke_schema() -> dict[str, Any]:
    """A Tool's ``smoke:`` cases (ci_deployer/config/behaviour.py): calls made as Vapi would make them."""
    return {
        "type": "array",
        "description": "Tool only: calls to the tool's server made by `ci-deployer test`.",
        "items": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "arguments": {"type": "object", "description": "The function call's arguments."},
                "expect": {
                    "type": "object",
                    "properties": {
                        "status": {"type": "integer", "minimum": 100, "maximum": 599},
                        "json": {"type": "object", "description": "A JSON Schema the answer must satisfy."},
                        "regex": {"type": "string", "description": "Searched in the answer (Python syntax)."},
                        "error": {"type": "boolean", "description": "The answer is the tool call's error."},
                        "maxLatencyMs": {"type": "number", "exclusiveMinimum": 0},
                    },
                    "additionalProperties": False,
                },
                "timeoutSeconds": {"type": "number", "exclusiveMinimum": 0, "maximum": 300},
                "environments": {"type": "array", "items": {"type": "string", "minLength": 1}, "uniqueItems": True},
            },
            "required": ["name"],
            "additionalProperties": False,
        },
    }


def document_schema() -> dict[str, Any]:
    """Envelope plus spec chosen by kind, through relative $refs (offline, for editors)."""
    rules = []
    for name in DOCUMENT_KINDS:
        stem = KINDS[name].schema if name in KINDS else "policy"
        then: dict[str, Any] = {"spec": {"$ref": f"spec/{stem}.schema.json"}}
        if name != "Eval":
            then["test"] = False  # test: belongs on Eval documents only
        if name != "Tool":
            then["smoke"] = False  # smoke: belongs on Tool documents only
        rules.append(
            {
                "if": {"properties": {"kind": {"const": name}}, "required": ["kind"]},
                "then": {"properties": then},
            }
        )
    return {
        "$schema": DRAFT,
        "title": "ci-deployer document",
        "description": (
            "Start a document with `# yaml-language-server: $schema=<path to>/schemas/document.schema.json`."
        ),
        "$ref": "envelope.schema.json",
        "allOf": rules,
    }


def environments_schema() -> dict[str, Any]:
    time_of_day = {
        "type": "string",
        "pattern": "^(?:[01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$",
        "description": 'HH:MM, quoted ("09:00"): unquoted YAML reads 09:00 as a number.',
    }
    date = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$", "description": "YYYY-MM-DD"}
    params = {"type": "object", "description": "Values for ${{ params.* }} templates."}
    protection = {
        "type": "object",
        "properties": {
            "requiredApprovals": {"type": "integer", "minimum": 0},
            "reviewers": {
                "type": "array",
                "items": {"type": "string", "pattern": "^@?[A-Za-z0-9][A-Za-z0-9-]*(?:/[A-Za-z0-9._-]+)?$"},
                "description": "GitHub logins, or @org/team slugs.",
            },
            "changeWindows": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "days": {
                            "type": "array",
                            "items": {"enum": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]},
                            "minItems": 1,
                            "uniqueItems": True,
                        },
                        "start": time_of_day,
                        "end": time_of_day,
                        "timezone": {
                            "type": "string",
                            "minLength": 1,
                            "description": "IANA name, e.g. America/New_York",
                        },
                    },
                    "required": ["days", "start", "end", "timezone"],
                    "additionalProperties": False,
                },
            },
            "freezes": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"from": date, "to": date, "reason": {"type": "string"}},
                    "required": ["from", "to"],
                    "additionalProperties": False,
                },
            },
            "ticket": {
                "type": "object",
                "properties": {
                    "pattern": {"type": "string", "minLength": 1, "description": "A regex a ticket id must match."},
                    "url": {"type": "string", "description": "Link template; {ticket} is replaced by the id."},
                },
                "required": ["pattern"],
                "additionalProperties": False,
            },
            "planAgainst": {"enum": ["live", "snapshot"]},
            "monitoring": {"type": "array"},
            "canary": {
                "type": "object",
                "properties": {
                    "rollbackOnFailure": {
                        "type": "boolean",
                        "description": "A failing canary eval after an apply restores the before-snapshot.",
                    }
                },
                "additionalProperties": False,
            },
        },
        "additionalProperties": False,
    }
    placeholder = {"type": "string", "pattern": "^secrets://[A-Za-z0-9_./#-]+$"}
    # The secret managers' blocks (ci_deployer/config/secrets_block.py: VAULT_KEYS, AWS_KEYS, GCP_KEYS
    # hold the same rules, with located findings).  Addresses and names only, never a credential.
    url = {"type": "string", "pattern": "^https?://[^\\s/?#@]+(?:/[^\\s?#]*)?$"}
    mount = {"type": "string", "pattern": "^[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*$"}
    vault = {
        "type": "object",
        "description": "secrets://vault/PATH#KEY: a KV v2 engine of HashiCorp Vault or OpenBao (no extra needed).",
        "properties": {
            "address": {**url, "description": "The server's URL, e.g. https://vault.acme.example:8200."},
            "mount": {**mount, "description": "The KV v2 engine's mount path (default secret)."},
            "namespace": {**mount, "description": "X-Vault-Namespace (Vault Enterprise, HCP Vault)."},
            "auth": {
                "type": "object",
                "description": "How the run logs in (default: method token, VAULT_TOKEN).",
                "properties": {
                    "method": {
                        "enum": ["jwt", "token"],
                        "description": "jwt: the GitHub OIDC token (permissions: id-token: write), VAULT_TOKEN "
                        "outside Actions; token: VAULT_TOKEN.",
                    },
                    "mount": {**mount, "description": "The JWT auth method's mount path (default jwt)."},
                    "role": {"type": "string", "minLength": 1, "description": "The JWT auth role."},
                    "audience": {
                        "type": "string",
                        "minLength": 1,
                        "description": "aud of the OIDC token, as the role's bound_audiences (default: the address).",
                    },
                },
                "additionalProperties": False,
                "if": {"properties": {"method": {"const": "jwt"}}, "required": ["method"]},
                "then": {"required": ["role"]},
            },
        },
        "required": ["address"],
        "additionalProperties": False,
    }
    aws = {
        "type": "object",
        "description": "secrets://aws/NAME[#KEY]: AWS Secrets Manager (pip install 'ci-deployer[aws]').",
        "properties": {
            "region": {"type": "string", "pattern": "^[a-z]{2}(?:-[a-z]+)+-\\d+$", "description": "e.g. us-east-1"},
            "roleArn": {
                "type": "string",
                "pattern": "^arn:aws[a-z-]*:iam::\\d{12}:role/[\\w+=,.@/-]+$",
                "description": "Assumed with the GitHub OIDC token (AssumeRoleWithWebIdentity) in Actions.",
            },
            "audience": {
                "type": "string",
                "minLength": 1,
                "description": "aud of the OIDC token (default sts.amazonaws.com).",
            },
            "endpoint": {**url, "description": "Secrets Manager and STS endpoint override (VPC endpoint, tests)."},
        },
        "required": ["region"],
        "additionalProperties": False,
    }
    gcp = {
        "type": "object",
        "description": "secrets://gcp/NAME[#VERSION]: GCP Secret Manager (pip install 'ci-deployer[gcp]').",
        "properties": {
            "project": {
                "type": "string",
                "pattern": "^(?:[a-z][a-z0-9-]{4,28}[a-z0-9]|\\d+)$",
                "description": "The project id or number holding the env's secrets.",
            },
            "endpoint": {**url, "description": "Secret Manager API base override (private endpoint, tests)."},
            "workloadIdentityProvider": {
                "type": "string",
                "pattern": "^projects/\\d+/locations/global/workloadIdentityPools/[a-z0-9-]+/providers/[a-z0-9-]+$",
                "description": "Workload Identity Federation with the GitHub OIDC token in Actions.",
            },
            "serviceAccount": {
                "type": "string",
                "pattern": "^[^@\\s]+@[^@\\s]+\\.[a-z]+$",
                "description": "Impersonated after federation (optional).",
            },
            "audience": {
                "type": "string",
                "minLength": 1,
                "description": "aud of the OIDC token (default https://iam.googleapis.com/<provider>).",
            },
        },
        "required": ["project"],
        "additionalProperties": False,
        "dependentRequired": {"serviceAccount": ["workloadIdentityProvider"]},
    }
    secrets = {
        "type": "object",
        "description": "What this env's secrets:// placeholders may read (the deployer's own credentials never).",
        "properties": {
            "allow": {
                "type": "array",
                "items": {"type": "string", "pattern": "^[A-Za-z0-9_*?\\[\\]!-]+$"},
                "description": "Environment variable name patterns placeholders may read (default: any not denied).",
            },
            "fileRoot": {
                "type": "string",
                "minLength": 1,
                "description": "secrets://file/ only below this folder (relative: to the working directory).",
            },
            "hmacKey": {**placeholder, "description": "secrets://NAME of the key for secret fingerprints."},
            "vault": vault,
            "aws": aws,
            "gcp": gcp,
        },
        "additionalProperties": False,
    }
    environment = {
        "type": "object",
        "properties": {
            "org": {"type": "string", "minLength": 1},
            "api": {
                "type": "object",
                "properties": {
                    "url": {
                        "anyOf": [{"const": "embedded"}, {"type": "string", "pattern": "^https?://[^\\s]+$"}],
                        "description": '"embedded" (an in-process emulator org) or the API base URL.',
                    },
                    "token": {"type": "string", "description": "secrets://NAME — never the literal key."},
                    "data": {
                        "type": "string",
                        "minLength": 1,
                        "description": "embedded only: the org's folder, relative to the config root "
                        "(default .ci-deployer/emulator).",
                    },
                },
                "required": ["url"],
                "additionalProperties": False,
            },
            "params": params,
            "credentials": {
                "type": "object",
                "propertyNames": {"pattern": SLUG},
                "additionalProperties": {"type": "string"},
                "description": "Credential ids of this env's org, by slug.",
            },
            "promotesFrom": {"type": "string"},
            "orgId": {
                "type": "string",
                "minLength": 1,
                "description": "The Vapi org id the env's API key must reach (checked before any write).",
            },
            "ignore": {"type": "array", "items": {"type": "string"}},
            "drift": {"enum": ["warn", "fail"]},
            "allowDeletes": {"type": "boolean"},
            "planAgainst": {"enum": ["live", "snapshot"]},
            "protection": protection,
            "secrets": secrets,
        },
        "required": ["org"],
        "additionalProperties": False,
    }
    return {
        "$schema": DRAFT,
        "title": "ci-deployer environments.yaml",
        "type": "object",
        "properties": {
            "apiVersion": {"const": "ci-deployer/v1"},
            "defaults": {
                "type": "object",
                "properties": {"params": params, "secrets": secrets},
                "additionalProperties": False,
            },
            "environments": {
                "type": "object",
                "propertyNames": {"pattern": "^[A-Za-z0-9][A-Za-z0-9_-]*$"},
                "additionalProperties": {"$ref": "#/$defs/Environment"},
                "minProperties": 1,
            },
        },
        "required": ["apiVersion", "environments"],
        "additionalProperties": False,
        "$defs": {"Environment": environment},
    }


# --------------------------------------------------------------------------- main


def generate(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """All schema files, by path relative to ``schemas/``."""
    files = build_specs(spec)
    files["envelope.schema.json"] = envelope_schema()
    files["environments.schema.json"] = environments_schema()
    files["document.schema.json"] = document_schema()
    return files


def dump(doc: dict[str, Any]) -> str:
    """Stable text: sorted keys, indented, except each ``$defs`` entry sits compact on one line.

    Indenting Vapi's deeply nested defs doubles the files (1.1 MB for the assistant); one line per
    def keeps them near 600 KB and a regenerated spec still diffs def by def.
    """

    def dumps(value: Any, indent: int | None) -> str:
        return json.dumps(value, indent=indent, sort_keys=True, ensure_ascii=False)

    parts = []
    for key in sorted(doc):
        if key == "$defs":
            defs = doc[key]
            body = ",\n".join(f"    {dumps(name, None)}: {dumps(defs[name], None)}" for name in sorted(defs))
            parts.append(f'  "$defs": {{\n{body}\n  }}')
        else:
            parts.append(f"  {dumps(key, None)}: " + dumps(doc[key], 2).replace("\n", "\n  "))
    return "{\n" + ",\n".join(parts) + "\n}\n"


def write(files: dict[str, dict[str, Any]], out: Path) -> list[Path]:
    """Write the files that changed; returns the paths written."""
    written = []
    for rel, doc in sorted(files.items()):
        path = out / rel
        text = dump(doc)
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=DEFAULT_SPEC, help="Vapi's OpenAPI spec (JSON)")
    parser.add_argument("--out", type=Path, default=REPO / "schemas", help="output folder")
    args = parser.parse_args(argv)
    if not args.spec.is_file():
        print(f"error: {args.spec}: no such file; pass --spec PATH to Vapi's openapi.json", file=sys.stderr)
        return 1
    spec = json.loads(args.spec.read_text(encoding="utf-8"))
    written = write(generate(spec), args.out)
    for path in written:
        print(f"wrote {path}")
    if not written:
        print("schemas are up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
