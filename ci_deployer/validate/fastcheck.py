"""A compiled yes/no check of JSON Schemas (draft 2020-12), for the documents that are valid.

Explaining a failure needs :mod:`jsonschema`'s error tree (:mod:`ci_deployer.validate.schemas` words
it the way Vapi does), but building that tree for a *valid* document is most of validation's cost:
a Tool spec evaluates 23 ``if``/``then`` branches and builds throwaway errors for each.  So every
schema is first compiled here into plain closures that only answer "valid?", and jsonschema runs
only for the documents this check rejects.  The answer is jsonschema's own: the keywords mirror
``jsonschema._keywords`` and ``jsonschema._types`` (``bool`` is no number, ``1.0`` is an integer,
``enum``/``const`` tell ``true`` from ``1``, ``pattern`` is ``re.search``, ``format`` only annotates),
and ``tests/validate/test_fastcheck.py`` holds it to jsonschema over every example, the bad-input
corpus and thousands of mutations.  A keyword this module does not know raises
:class:`Unsupported` and the caller asks jsonschema instead: a check never guesses.

- **Lazy.** ``$ref`` targets are compiled on first use, so a 600 KB schema costs what the
  documents at hand reach.  The schema files carry no ``$id``: a ``$ref`` resolves against the
  path of the file holding it, as the registry in :mod:`ci_deployer.validate.schemas` does.
- **Dispatch on the discriminator.** An ``allOf`` of ``{if: {properties: {type: {const: X}},
  required: [type]}, then: …}`` branches (tools, phone numbers, model providers) becomes one dict
  lookup on the value of ``type``; every branch still applies to a value that is not an object,
  as the ``if`` does there.
- **Thread-safe.** Compiled checks are immutable closures; the caches only ever gain entries.
"""

from __future__ import annotations

import itertools
import numbers
import posixpath
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import unquote

Check = Callable[[Any], bool]
Loader = Callable[[str], Any]  # a schema file's path (relative to the schema folder) → its parsed JSON

# Keywords that never fail a value (annotations, and `format`, which jsonschema only asserts with a
# format checker: ci_deployer.validate.schemas builds its validators without one).  `then`/`else`
# are read by `if`.
_ANNOTATIONS = frozenset(
    {
        "$schema",
        "$defs",
        "definitions",
        "$comment",
        "title",
        "description",
        "default",
        "deprecated",
        "examples",
        "readOnly",
        "writeOnly",
        "format",
        "contentMediaType",
        "contentEncoding",
        "contentSchema",
        "then",
        "else",
    }
)
_MISSING = object()


class Unsupported(Exception):
    """The schema uses a keyword (or a form of one) this module does not compile."""


def _yes(_: Any) -> bool:
    return True


def _no(_: Any) -> bool:
    return False


# --------------------------------------------------------------------------- jsonschema's value rules


def _unbool(value: Any) -> Any:
    # jsonschema._utils.unbool: keep True/False apart from 1/0 when comparing.
    if value is True:
        return _TRUE
    if value is False:
        return _FALSE
    return value


_TRUE, _FALSE = object(), object()


def equal(one: Any, two: Any) -> bool:
    """``jsonschema._utils.equal``: JSON equality (``true`` is not ``1``; ``1`` is ``1.0``)."""
    if one is two:
        return True
    if isinstance(one, str) or isinstance(two, str):
        return bool(one == two)
    if isinstance(one, Sequence) and isinstance(two, Sequence):
        return len(one) == len(two) and all(equal(a, b) for a, b in zip(one, two, strict=True))
    if isinstance(one, Mapping) and isinstance(two, Mapping):
        return one.keys() == two.keys() and all(equal(one[key], two[key]) for key in one)
    return bool(_unbool(one) == _unbool(two))


def _unique(items: list[Any]) -> bool:
    """``jsonschema._utils.uniq``."""
    try:
        ordered = sorted(_unbool(i) for i in items)
        return not any(equal(a, b) for a, b in zip(ordered, itertools.islice(ordered, 1, None), strict=False))
    except (NotImplementedError, TypeError):
        seen: list[Any] = []
        for item in items:
            item = _unbool(item)  # noqa: PLW2901 - as jsonschema does
            if any(equal(other, item) for other in seen):
                return False
            seen.append(item)
        return True


def _is_number(value: Any) -> bool:
    kind = type(value)
    if kind is int or kind is float:
        return True
    return not isinstance(value, bool) and isinstance(value, numbers.Number)


def _is_integer(value: Any) -> bool:
    # Draft 6 and later: 1.0 is an integer.
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


_TYPES: dict[str, Check] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": _is_number,
    "integer": _is_integer,
}


# --------------------------------------------------------------------------- the compiler


class Compiler:
    """Compiles the schema files under one folder; every compiled node is cached by identity."""

    def __init__(self, load: Loader) -> None:
        self._load = load
        self._files: dict[str, Any] = {}
        self._compiled: dict[int, Check] = {}
        self._nodes: list[Any] = []  # keeps compiled nodes alive, so their ids stay theirs

    def file(self, rel: str) -> Check:
        """The check of the schema file ``rel`` (a path relative to the schema folder)."""
        return self.compile(self._file(rel), rel)

    def _file(self, rel: str) -> Any:
        found = self._files.get(rel, _MISSING)
        if found is _MISSING:
            found = self._load(rel)
            self._files[rel] = found
        return found

    def compile(self, node: Any, base: str) -> Check:
        """The check of the schema ``node`` found in the file ``base``."""
        if node is True:
            return _yes
        if node is False:
            return _no
        if not isinstance(node, dict):
            raise Unsupported(f"a schema must be an object or a boolean, not {type(node).__name__}")
        found = self._compiled.get(id(node))
        if found is None:
            found = _all(self._keywords(node, base))
            self._nodes.append(node)
            self._compiled[id(node)] = found
        return found

    def _keywords(self, node: dict[str, Any], base: str) -> list[Check]:
        checks: list[Check] = []
        later: list[Check] = []  # the subschema keywords, after the cheap ones
        for key, value in node.items():
            if key in _ANNOTATIONS:
                continue
            make = getattr(self, "_kw_" + key.lstrip("$"), None)
            if make is None:
                raise Unsupported(f"keyword {key!r}")
            check = make(value, node, base)
            if check is None:
                continue
            (later if key in _SUBSCHEMA_KEYWORDS else checks).append(check)
        return checks + later

    # -- cheap keywords ------------------------------------------------------------------------

    def _kw_type(self, value: Any, node: dict[str, Any], base: str) -> Check:
        names = [value] if isinstance(value, str) else list(value)
        if any(n not in _TYPES for n in names):
            raise Unsupported(f"type {value!r}")
        preds = [_TYPES[n] for n in names]
        if len(preds) == 1:
            return preds[0]
        return lambda v: any(p(v) for p in preds)

    def _kw_enum(self, value: Any, node: dict[str, Any], base: str) -> Check:
        options = list(value)
        strings = frozenset(o for o in options if isinstance(o, str))

        def enum(v: Any) -> bool:
            if isinstance(v, str):
                return v in strings  # a string equals only an equal string
            return any(equal(o, v) for o in options)

        return enum

    def _kw_const(self, value: Any, node: dict[str, Any], base: str) -> Check:
        if isinstance(value, str):
            return lambda v: isinstance(v, str) and v == value
        return lambda v: equal(v, value)

    def _kw_required(self, value: Any, node: dict[str, Any], base: str) -> Check:
        names = tuple(value)
        return lambda v: not isinstance(v, dict) or all(n in v for n in names)

    def _kw_maxLength(self, value: Any, node: dict[str, Any], base: str) -> Check:
        return lambda v: not isinstance(v, str) or len(v) <= value

    def _kw_minLength(self, value: Any, node: dict[str, Any], base: str) -> Check:
        return lambda v: not isinstance(v, str) or len(v) >= value

    def _kw_pattern(self, value: Any, node: dict[str, Any], base: str) -> Check:
        compiled = re.compile(value)
        return lambda v: not isinstance(v, str) or compiled.search(v) is not None

    def _kw_minimum(self, value: Any, node: dict[str, Any], base: str) -> Check:
        return lambda v: not _is_number(v) or not v < value

    def _kw_maximum(self, value: Any, node: dict[str, Any], base: str) -> Check:
        return lambda v: not _is_number(v) or not v > value

    def _kw_exclusiveMinimum(self, value: Any, node: dict[str, Any], base: str) -> Check:
        return lambda v: not _is_number(v) or not v <= value

    def _kw_exclusiveMaximum(self, value: Any, node: dict[str, Any], base: str) -> Check:
        return lambda v: not _is_number(v) or not v >= value

    def _kw_maxItems(self, value: Any, node: dict[str, Any], base: str) -> Check:
        return lambda v: not isinstance(v, list) or len(v) <= value

    def _kw_minItems(self, value: Any, node: dict[str, Any], base: str) -> Check:
        return lambda v: not isinstance(v, list) or len(v) >= value

    def _kw_maxProperties(self, value: Any, node: dict[str, Any], base: str) -> Check:
        return lambda v: not isinstance(v, dict) or len(v) <= value

    def _kw_minProperties(self, value: Any, node: dict[str, Any], base: str) -> Check:
        return lambda v: not isinstance(v, dict) or len(v) >= value

    def _kw_uniqueItems(self, value: Any, node: dict[str, Any], base: str) -> Check | None:
        if not value:
            return None
        return lambda v: not isinstance(v, list) or _unique(v)

    # -- keywords with subschemas --------------------------------------------------------------

    def _kw_ref(self, value: Any, node: dict[str, Any], base: str) -> Check:
        if not isinstance(value, str):
            raise Unsupported("$ref must be a string")
        rel, _, fragment = value.partition("#")
        target = posixpath.normpath(posixpath.join(posixpath.dirname(base), rel)) if rel else base
        resolved: list[Check] = []

        def ref(v: Any) -> bool:
            if not resolved:  # compiled on first use: a schema costs what the documents reach
                resolved.append(self.compile(self._pointer(target, fragment), target))
            return resolved[0](v)

        return ref

    def _pointer(self, rel: str, fragment: str) -> Any:
        node = self._file(rel)
        if not fragment:
            return node
        if not fragment.startswith("/"):
            raise Unsupported(f"anchor {fragment!r}")
        for part in fragment[1:].split("/"):
            step = unquote(part).replace("~1", "/").replace("~0", "~")
            if isinstance(node, list):
                node = node[int(step)]
            elif isinstance(node, dict) and step in node:
                node = node[step]
            else:
                raise Unsupported(f"unresolvable $ref {rel}#{fragment}")
        return node

    def _kw_properties(self, value: Any, node: dict[str, Any], base: str) -> Check:
        props = [(name, self.compile(sub, base)) for name, sub in value.items()]
        props = [(n, c) for n, c in props if c is not _yes]

        def properties(v: Any) -> bool:
            if not isinstance(v, dict):
                return True
            for name, check in props:
                item = v.get(name, _MISSING)
                if item is not _MISSING and not check(item):
                    return False
            return True

        return properties

    def _kw_additionalProperties(self, value: Any, node: dict[str, Any], base: str) -> Check | None:
        if "patternProperties" in node:
            raise Unsupported("patternProperties")
        known = frozenset(node.get("properties", {}))
        sub = self.compile(value, base)
        if sub is _yes:
            return None
        if sub is _no:
            return lambda v: not isinstance(v, dict) or all(k in known for k in v)

        def additional(v: Any) -> bool:
            return not isinstance(v, dict) or all(k in known or sub(v[k]) for k in v)

        return additional

    def _kw_propertyNames(self, value: Any, node: dict[str, Any], base: str) -> Check:
        sub = self.compile(value, base)
        return lambda v: not isinstance(v, dict) or all(sub(k) for k in v)

    def _kw_items(self, value: Any, node: dict[str, Any], base: str) -> Check | None:
        if "prefixItems" in node or not isinstance(value, (dict, bool)):
            raise Unsupported("prefixItems / array-form items")
        sub = self.compile(value, base)
        if sub is _yes:
            return None
        return lambda v: not isinstance(v, list) or all(sub(item) for item in v)

    def _kw_not(self, value: Any, node: dict[str, Any], base: str) -> Check:
        sub = self.compile(value, base)
        return lambda v: not sub(v)

    def _kw_anyOf(self, value: Any, node: dict[str, Any], base: str) -> Check:
        subs = [self.compile(s, base) for s in value]
        return lambda v: any(s(v) for s in subs)

    def _kw_oneOf(self, value: Any, node: dict[str, Any], base: str) -> Check:
        subs = [self.compile(s, base) for s in value]

        def one_of(v: Any) -> bool:
            passed = 0
            for s in subs:
                if s(v):
                    passed += 1
                    if passed > 1:
                        return False
            return passed == 1

        return one_of

    def _kw_if(self, value: Any, node: dict[str, Any], base: str) -> Check | None:
        cond = self.compile(value, base)
        then = self.compile(node["then"], base) if "then" in node else _yes
        other = self.compile(node["else"], base) if "else" in node else _yes
        if then is _yes and other is _yes:
            return None
        return lambda v: then(v) if cond(v) else other(v)

    def _kw_allOf(self, value: Any, node: dict[str, Any], base: str) -> Check:
        plain: list[Check] = []
        by_property: dict[str, dict[str, list[Any]]] = {}
        for branch in value:
            found = _discriminated(branch)
            if found is None:
                plain.append(self.compile(branch, base))
            else:
                prop, const, then = found
                by_property.setdefault(prop, {}).setdefault(const, []).append(then)
        checks = plain + [self._dispatch(prop, table, base) for prop, table in by_property.items()]
        return _all(checks)

    def _dispatch(self, prop: str, table: dict[str, list[Any]], base: str) -> Check:
        """``if {prop: const X} then T`` branches as one lookup (all branches for a non-object)."""
        compiled = {const: _all([self.compile(t, base) for t in thens]) for const, thens in table.items()}
        every = _all(list(compiled.values()))

        def dispatch(v: Any) -> bool:
            if not isinstance(v, dict):
                return every(v)  # `properties`/`required` ignore non-objects: every `if` holds
            tag = v.get(prop, _MISSING)
            if not isinstance(tag, str):
                return True  # a const string equals only a string
            check = compiled.get(tag)
            return check is None or check(v)

        return dispatch


_SUBSCHEMA_KEYWORDS = frozenset(
    {"$ref", "properties", "additionalProperties", "propertyNames", "items", "not", "anyOf", "oneOf", "allOf", "if"}
)


def _discriminated(branch: Any) -> tuple[str, str, Any] | None:
    """``(property, const, then)`` of ``{if: {properties: {P: {const: "X"}}, required: [P]}, then: T}``."""
    if not isinstance(branch, dict) or set(branch) != {"if", "then"}:
        return None
    cond = branch["if"]
    if not isinstance(cond, dict) or set(cond) != {"properties", "required"}:
        return None
    props, required = cond["properties"], cond["required"]
    if not isinstance(props, dict) or len(props) != 1 or required != list(props):
        return None
    ((prop, sub),) = props.items()
    if not isinstance(sub, dict) or set(sub) != {"const"} or not isinstance(sub["const"], str):
        return None
    return prop, sub["const"], branch["then"]


def _all(checks: list[Check]) -> Check:
    checks = [c for c in checks if c is not _yes]
    if not checks:
        return _yes
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda v: first(v) and second(v)
    frozen = tuple(checks)

    def every(v: Any) -> bool:
        for check in frozen:  # noqa: SIM110 - a loop: all() over a generator is slower on this hot path
            if not check(v):
                return False
        return True

    return every
