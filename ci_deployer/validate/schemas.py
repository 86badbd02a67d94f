"""Validate documents, specs and environments.yaml against the committed JSON Schemas.

The schemas live in ``schemas/`` (generated from Vapi's OpenAPI spec by ``scripts/gen_schemas.py``);
an installed package carries them as ``ci_deployer/_schemas``.  Validation pays only for failures:
a value is first checked by the compiled yes/no check of :mod:`ci_deployer.validate.fastcheck`
(dispatching on the ``type`` discriminator, reading only the schema files the value reaches), and
only a value it rejects goes through :mod:`jsonschema`, whose errors are explained here.  Both are
built once per schema file and shared: they are immutable, so the emulator may call
:func:`validate_spec` from many threads.  Errors come back as :class:`SchemaIssue` values with
Vapi-like wording ("name must be shorter than or equal to 40 characters", "property 'x' should not
exist").
"""

from __future__ import annotations

import datetime as _dt
import difflib
import functools
import json
import pathlib
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ci_deployer.paths import Path, format_path
from ci_deployer.validate.fastcheck import Check, Compiler, Unsupported

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError
    from jsonschema.protocols import Validator

Mode = Literal["create", "update"]

# The generator marks the widened reference type with this title (scripts/gen_schemas.py REF_TITLE).
_REF_TITLE = "ci-deployer reference"
_ENUM_SHOWN = 8  # longer enums are cut: the openai branch alone lists ~100 model names
_TYPE_WORDS = {
    "string": "a string",
    "number": "a number",
    "integer": "an integer",
    "boolean": "a boolean",
    "object": "an object",
    "array": "an array",
    "null": "null",
}
_SCHEMA_URI = "https://schemas.ci-deployer.invalid/"  # never fetched: every file is in the registry


@dataclass(frozen=True)
class SchemaIssue:
    """One schema violation: where (a path into the validated value), what, and what to do."""

    path: Path
    message: str
    hint: str | None = None


def schema_dir() -> pathlib.Path:
    """The folder holding the schema files (installed package first, then the source tree)."""
    here = pathlib.Path(__file__).resolve().parent.parent
    installed = here / "_schemas"
    if installed.is_dir():
        return installed
    return here.parent / "schemas"


def validate_spec(kind: str, spec: Any, *, mode: Mode = "create") -> list[SchemaIssue]:
    """Validate a kind's ``spec`` (a Vapi create payload, or a PATCH body with ``mode="update"``).

    ``kind`` is the document kind ("Assistant", "Tool", …, "Policy").  For a Tool PATCH body, include
    the stored tool's ``type`` to check the body against that type's fields.
    """
    return _checked(_spec_file(kind, mode), spec)


def validate_envelope(doc: Any) -> list[SchemaIssue]:
    """Validate a document's envelope (apiVersion, kind, metadata, policies; ``spec`` only as an object)."""
    return _checked("envelope.schema.json", doc)


def validate_environments(data: Any) -> list[SchemaIssue]:
    """Validate the parsed ``environments.yaml``.

    Dates are strings under YAML 1.2 (config/yamlsource.py); a ``datetime.date`` from a hand-built
    value is checked as its ISO text.
    """
    return _checked("environments.schema.json", _plain(data))


def validate_document(doc: Any) -> list[SchemaIssue]:
    """Envelope and (when the kind is known) the spec in create mode, with paths from the document root."""
    issues = validate_envelope(doc)
    if isinstance(doc, dict) and isinstance(doc.get("spec"), dict) and doc.get("kind") in _kind_files():
        issues += [
            SchemaIssue(("spec", *i.path), _prefix_spec(i.message), i.hint)
            for i in validate_spec(doc["kind"], doc["spec"])
        ]
    return issues


# --------------------------------------------------------------------------- loading and caching

_lock = threading.Lock()  # guards the caches below; validators and checks themselves are immutable
_validators: dict[str, Validator] = {}
_registries: list[Any] = []  # at most one Registry, built on first use
_files: dict[str, Any] = {}  # schema file (relative path) → parsed JSON, shared by both validators
_compilers: list[Compiler] = []
_checks: dict[str, Check | None] = {}  # schema file → its compiled check (None: jsonschema only)


def _checked(rel: str, instance: Any) -> list[SchemaIssue]:
    """The issues of ``instance`` against the schema file ``rel``: none when the compiled check
    accepts it, else jsonschema's errors, explained."""
    check = _check(rel)
    if check is not None:
        try:
            if check(instance):
                return []
        except Unsupported:
            with _lock:
                _checks[rel] = None  # a keyword only jsonschema knows: ask it from now on
        except RecursionError:
            pass  # deeper than the compiled check can go: jsonschema decides
    return _issues(_validator(rel), instance)


def _check(rel: str) -> Check | None:
    with _lock:
        if rel not in _checks:
            if not _compilers:
                _compilers.append(Compiler(_schema_file))
            try:
                _checks[rel] = _compilers[0].file(rel)
            except Unsupported:
                _checks[rel] = None
        return _checks[rel]


def _schema_file(rel: str) -> Any:
    """The parsed schema file ``rel`` (read once; the compiled check and jsonschema share it)."""
    found = _files.get(rel)
    if found is None:
        path = schema_dir() / rel
        try:
            found = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FileNotFoundError(f"schema {rel} is missing under {schema_dir()}; reinstall ci-deployer") from None
        _files[rel] = found
    return found


@functools.cache
def _kind_files() -> dict[str, str]:
    from ci_deployer.platform.kinds import KINDS, POLICY

    return {**{name: k.schema for name, k in KINDS.items()}, POLICY: "policy"}


def _spec_file(kind: str, mode: Mode) -> str:
    stem = _kind_files().get(kind)
    if stem is None:
        known = ", ".join(_kind_files())
        raise ValueError(f"unknown document kind {kind!r} (known: {known})")
    if mode == "update" and stem != "policy":
        return f"spec/{stem}.update.schema.json"
    return f"spec/{stem}.schema.json"


def _registry() -> Any:
    """A registry that retrieves each schema file on first reference, under a URI that mirrors its
    path, so relative refs resolve offline and only the files a failing value reaches are read.

    Called with ``_lock`` held.
    """
    from referencing import Registry, Resource
    from referencing.exceptions import NoSuchResource
    from referencing.jsonschema import DRAFT202012

    if not _registries:
        if not schema_dir().is_dir() or not any(schema_dir().glob("*.schema.json")):
            raise FileNotFoundError(
                f"no schema files under {schema_dir()}: the installation is incomplete; reinstall ci-deployer"
            )
        resources: dict[str, Any] = {}

        def retrieve(uri: str) -> Any:
            if uri not in resources:
                rel = uri.removeprefix(_SCHEMA_URI)
                if rel == uri or not (schema_dir() / rel).is_file():
                    raise NoSuchResource(uri)
                resources[uri] = Resource.from_contents(_schema_file(rel), DRAFT202012)
            return resources[uri]

        _registries.append(Registry(retrieve=retrieve))  # type: ignore[call-arg]
    return _registries[0]


def _validator(rel: str) -> Validator:
    with _lock:
        cached = _validators.get(rel)
        if cached is None:
            from jsonschema import Draft202012Validator

            registry = _registry()
            if not (schema_dir() / rel).is_file():
                raise FileNotFoundError(f"schema {rel} is missing under {schema_dir()}; reinstall ci-deployer")
            # The files carry no `$id`: a root `$ref` to the registry URI gives each its base URI.
            cached = Draft202012Validator({"$ref": _SCHEMA_URI + rel}, registry=registry)
            _validators[rel] = cached
        return cached


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    return value


# --------------------------------------------------------------------------- messages


def _issues(validator: Validator, instance: Any) -> list[SchemaIssue]:
    unique = {(i.path, i.message): i for i in _explain_all(validator.iter_errors(instance))}
    return sorted(unique.values(), key=lambda i: (_path_key(i.path), i.message))


def _path_key(path: Iterable[str | int]) -> tuple[str, ...]:
    return tuple(f"{p:08d}" if isinstance(p, int) else p for p in path)


def _explain_all(errors: Iterable[ValidationError]) -> Iterator[SchemaIssue]:
    for error in errors:
        yield from _explain(error)


def _where(path: Path) -> str:
    return format_path(path) or "the value"


def _explain(error: ValidationError) -> Iterator[SchemaIssue]:
    path: Path = tuple(error.absolute_path)
    where = _where(path)
    kind = error.validator
    value = error.validator_value
    schema = error.schema if isinstance(error.schema, dict) else {}
    if kind == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        known = set(allowed)
        for name in sorted(k for k in error.instance if k not in known) if isinstance(error.instance, dict) else []:
            full = format_path((*path, name))
            close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'?" if close else _allowed_hint(allowed)
            yield SchemaIssue((*path, name), f"property '{full}' should not exist", hint)
        return
    if kind in ("anyOf", "oneOf"):
        yield from _explain_union(error, path, where, schema)
        return
    if kind == "required":
        missing = _missing(error)
        yield SchemaIssue((*path, missing), f"{format_path((*path, missing))} is required", None)
        return
    if kind == "enum":
        yield SchemaIssue(
            path,
            f"{where}: {_show(error.instance)} is not one of {_enum_list(value, error.instance)}",
            _enum_hint(error),
        )
        return
    if kind == "const":
        yield SchemaIssue(path, f"{where} must be {_show(value)}", None)
        return
    if kind == "type":
        types = _type_names(value)
        words = " or ".join(_TYPE_WORDS.get(t, t) for t in types)
        yield SchemaIssue(path, f"{where} must be {words}", _type_hint(error.instance, types))
        return
    if kind == "maxLength":
        yield SchemaIssue(path, f"{where} must be shorter than or equal to {value} characters", None)
        return
    if kind == "minLength":
        yield SchemaIssue(path, f"{where} must be longer than or equal to {value} characters", None)
        return
    if kind in ("minimum", "exclusiveMinimum"):
        word = "less than" if kind == "minimum" else "less than or equal to"
        yield SchemaIssue(path, f"{where} must not be {word} {value}", None)
        return
    if kind in ("maximum", "exclusiveMaximum"):
        word = "greater than" if kind == "maximum" else "greater than or equal to"
        yield SchemaIssue(path, f"{where} must not be {word} {value}", None)
        return
    if kind == "maxItems":
        yield SchemaIssue(path, f"{where} must contain no more than {value} elements", None)
        return
    if kind == "minItems":
        yield SchemaIssue(path, f"{where} must contain at least {value} elements", None)
        return
    if kind == "uniqueItems":
        yield SchemaIssue(path, f"{where} must not contain duplicates", None)
        return
    if kind == "pattern":
        yield SchemaIssue(path, f"{where}: {_show(error.instance)} does not match the pattern {value}", None)
        return
    if kind == "propertyNames":
        yield SchemaIssue(path, f"{where}: {error.message}", None)
        return
    yield SchemaIssue(path, f"{where}: {error.message}", None)


def _explain_union(error: ValidationError, path: Path, where: str, schema: dict[str, Any]) -> Iterator[SchemaIssue]:
    if schema.get("title") == _REF_TITLE or _is_ref_union(schema):
        yield SchemaIssue(
            path,
            f"{where} must be a slug ([a-z0-9-], at most 40 characters), an id, or {{ref: kind/slug}}",
            "write the referenced document's metadata.name",
        )
        return
    # Group the branches' errors; a branch that fails only on `type`/`const` at this very value is
    # the wrong shape altogether, so a branch that got further explains better.
    by_branch: dict[int, list[ValidationError]] = {}
    for sub in error.context or ():
        by_branch.setdefault(int(sub.relative_schema_path[0]), []).append(sub)
    shallow = {i for i, errs in by_branch.items() if all(_is_shape_error(e, path) for e in errs)}
    deep = [i for i in by_branch if i not in shallow]
    if not deep:
        forms: list[str] = []
        values: list[Any] = []  # the values of the branches that list them, merged into one list
        for i in sorted(by_branch):
            listing = next(
                (e.schema for e in by_branch[i] if e.validator == "enum" and isinstance(e.schema, dict)), None
            )
            if listing is not None:
                values.extend(v for v in listing["enum"] if _json_key(v) not in {_json_key(w) for w in values})
                continue
            for e in by_branch[i]:
                form = _expected_form(e)
                if form and form not in forms:
                    forms.append(form)
        if values:
            # Branches of different types (Vapi voice `version`: "1", "2", "latest" or 1, 2): quote
            # the strings, or "must be one of 1, 2, latest" would not say why 2 passes and 3 fails.
            mixed = len({type(v) for v in values}) > 1
            forms.insert(0, f"one of {_enum_list(values, error.instance, quote=mixed)}")
        yield SchemaIssue(path, f"{where} must be {', or '.join(forms) or 'of an allowed form'}", None)
        return

    # Prefer the branch the value is shaped like: its errors lie deeper than the union itself
    # (an eval message with `judgePlan` is an evaluation whose judge plan is wrong, not a mock
    # message with a stray property).
    def misfit(i: int) -> tuple[int, int, int]:
        errs = by_branch[i]
        at_union = sum(1 for e in errs if tuple(e.absolute_path) == path)
        return (at_union, len(errs), i)

    yield from _explain_all(by_branch[min(deep, key=misfit)])


def _is_ref_union(schema: dict[str, Any]) -> bool:
    for branch in schema.get("anyOf", []):
        if isinstance(branch, dict) and str(branch.get("$ref", "")).endswith("/CiDeployerReference"):
            return True
    return False


def _is_shape_error(error: ValidationError, at: Path) -> bool:
    return tuple(error.absolute_path) == at and error.validator in ("type", "const", "enum")


def _type_names(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [str(t) for t in value]


def _expected_form(error: ValidationError) -> str:
    if error.validator == "type":
        return " or ".join(_TYPE_WORDS.get(t, t) for t in _type_names(error.validator_value))
    if error.validator == "enum":
        return f"one of {_enum_list(error.validator_value, error.instance)}"
    if error.validator == "const":
        return _show(error.validator_value)
    return ""


def _missing(error: ValidationError) -> str:
    # jsonschema words it "'x' is a required property"; the name is the quoted prefix.
    msg = error.message
    if msg.startswith("'") and "' is a required property" in msg:
        return msg[1 : msg.index("' is a required property")]
    required = error.validator_value if isinstance(error.validator_value, list) else []
    instance = error.instance if isinstance(error.instance, dict) else {}
    return next((str(r) for r in required if r not in instance), "?")


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    return json.dumps(value, default=str)[:80]


def _json_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)  # 1 and True, or 1 and "1", are different values


def _enum_list(values: Any, given: Any = None, *, quote: bool = False) -> str:
    items = [str(v) if isinstance(v, str) and not quote else json.dumps(v) for v in values]
    if isinstance(given, str) and len(items) > _ENUM_SHOWN:
        # the closest values first: for 'gpt-9' the gpt-* models, not the first 8 of ~150 names
        close = difflib.get_close_matches(given, items, n=_ENUM_SHOWN, cutoff=0.0)
        items = close + [i for i in items if i not in close]
    if len(items) <= _ENUM_SHOWN:
        return ", ".join(items)
    return ", ".join(items[:_ENUM_SHOWN]) + f", … ({len(items) - _ENUM_SHOWN} more)"


def _enum_hint(error: ValidationError) -> str | None:
    if not isinstance(error.instance, str):
        return None
    options = [v for v in error.validator_value if isinstance(v, str)]  # type: ignore[union-attr]
    close = difflib.get_close_matches(error.instance, options, n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def _type_hint(instance: Any, types: list[str]) -> str | None:
    if isinstance(instance, str) and "${{" in instance and ("number" in types or "integer" in types):
        return 'a template must be the whole value to keep its type: write "${{ params.x }}" alone'
    if isinstance(instance, int) and "string" in types and not isinstance(instance, bool):
        return "quote the value: YAML read it as a number"
    return None


def _allowed_hint(allowed: list[str]) -> str | None:
    if not allowed:
        return None
    shown = ", ".join(allowed[:12])
    more = f", … ({len(allowed) - 12} more)" if len(allowed) > 12 else ""
    return f"allowed here: {shown}{more}"


def _prefix_spec(message: str) -> str:
    if message.startswith("property '"):
        return "property 'spec." + message[len("property '") :]
    return "spec." + message if not message.startswith("the value") else "spec" + message[len("the value") :]
