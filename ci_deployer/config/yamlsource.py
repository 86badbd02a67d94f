"""Reading YAML and JSON files safely, keeping the line and column of every node.

PyYAML's ``safe_load`` silently keeps the last of two duplicate keys, expands aliases without
bound (the "billion laughs" bomb), forgets positions and types scalars by YAML 1.1, where ``on``,
``yes`` and ``no`` are booleans: Vapi's own examples write assistant hooks as
``- on: customer.speech.timeout``, and 1.1 turns that key into ``True``.  So files are *composed*
with libyaml's parser (``yaml.cyaml.CParser``; PyYAML's pure-Python parser only when libyaml is
missing) and a resolver of our own with YAML 1.2 core-schema rules (yaml.org/spec/1.2.2 §10.3.2),
and the node graph is turned into plain dicts and lists here, which lets us:

- type scalars by the 1.2 core schema: only ``true``/``false`` (``True``, ``TRUE``, ``False``,
  ``FALSE``) are booleans; ``null``, ``~`` and empty are null; integers are decimal, ``0o17`` or
  ``0x1F``; floats as in JSON plus ``.5``/``1.``; everything else (``on``, ``yes``, ``1:20``,
  ``2026-01-01``, ``1_000``) is a string;
- refuse ``.nan``/``.inf`` (and floats that overflow to infinity): DESIGN §2, a NaN or Infinity
  would be sent to Vapi as non-JSON;
- refuse map keys that are not strings (``1:``, ``true:``, ``null:``): JSON keys are strings, and
  a mixed-type map cannot even be sorted for hashing;
- record the 1-based ``(line, column)`` of every mapping key and list item by its path;
- refuse duplicate keys (merge keys ``<<`` are kept, as most YAML 1.2 loaders keep them: explicit
  keys win);
- count every node constructed, alias expansions included, and stop past :data:`MAX_NODES`;
- bound nesting depth and refuse recursive aliases.

JSON files are parsed by :mod:`json` and composed as YAML only to learn positions; the same rules
apply (no NaN/Infinity, including ``1e400``).  Reading checks size (``stat`` first), regular file,
NUL bytes and UTF-8.  Every problem is a :class:`ParseProblem` with a finding code, a message, a
hint and a position.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import BaseResolver

from ci_deployer.paths import Path

MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
MAX_INCLUDE_BYTES = 1 * 1024 * 1024
# A config document has hundreds of nodes; 200k leaves room for big JSON schemas and stops an
# alias bomb (a few hundred bytes that expand to 10^9 nodes) after a fraction of a second.
MAX_NODES = 200_000
# libyaml itself stops at 1000; our walkers are recursive, so stay well under Python's limit.
MAX_DEPTH = 200

_NULL_TAG = "tag:yaml.org,2002:null"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"

# The YAML 1.2 core schema (yaml.org/spec/1.2.2 §10.3.2), as regular expressions over a plain
# scalar.  Order matters: null, bool, int, float, then str.
_CORE_NULL = frozenset({"", "~", "null", "Null", "NULL"})
_CORE_TRUE = frozenset({"true", "True", "TRUE"})
_CORE_BOOL = _CORE_TRUE | {"false", "False", "FALSE"}
_CORE_INT = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_CORE_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_CORE_SPECIAL_FLOAT = re.compile(r"[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)")
# Only a plain scalar starting with one of these can be anything but a string (fast path).
_MAYBE_TYPED = frozenset("0123456789+-.~nNtTfF")
_SCALAR_TAGS = frozenset({_NULL_TAG, _BOOL_TAG, _INT_TAG, _FLOAT_TAG, _STR_TAG})


def resolve_core(value: str) -> str:
    """The YAML 1.2 core-schema tag of the plain scalar ``value`` (``<<`` is the merge key)."""
    if value and value[0] not in _MAYBE_TYPED:
        return _MERGE_TAG if value == "<<" else _STR_TAG
    if value in _CORE_NULL:
        return _NULL_TAG
    if value in _CORE_BOOL:
        return _BOOL_TAG
    if _CORE_INT.fullmatch(value):
        return _INT_TAG
    if _CORE_FLOAT.fullmatch(value) or _CORE_SPECIAL_FLOAT.fullmatch(value):
        return _FLOAT_TAG
    return _STR_TAG


class CoreResolver(BaseResolver):
    """A resolver with YAML 1.2 core-schema rules instead of PyYAML's YAML 1.1 ones.

    Replaces the regex table walk of :class:`yaml.resolver.Resolver` by :func:`resolve_core`.
    Quoted scalars (and scalars with the non-specific ``!`` tag) are strings.
    """

    def resolve(self, kind: type[Node], value: Any, implicit: Any) -> str:
        if kind is ScalarNode:
            if not implicit[0]:
                return _STR_TAG
            if value and value[0] not in _MAYBE_TYPED:  # resolve_core's fast path, inlined (every scalar)
                return _MERGE_TAG if value == "<<" else _STR_TAG
            return resolve_core(value)
        return _SEQ_TAG if kind is SequenceNode else _MAP_TAG


def _loader_class() -> type[Any]:
    """libyaml's parser with :class:`CoreResolver` (else PyYAML's pure-Python parser).

    Only composing is used (``get_single_node``): the base loaders' constructors never run, and
    :class:`CoreResolver` comes first in the MRO so its ``resolve`` replaces ``BaseResolver``'s.
    """
    base: type[Any] | None = getattr(yaml, "CBaseLoader", None)  # None: PyYAML built without libyaml
    if base is None:
        base = yaml.BaseLoader  # about 10x slower, same results

    class CoreComposer(CoreResolver, base):  # type: ignore[valid-type,misc]
        pass

    return CoreComposer


_LOADERS: list[type[Any]] = []  # built on first use (nothing happens at import time)


class ParseProblem(Exception):
    """A file that cannot be read or parsed: code, message, hint and (1-based) position."""

    def __init__(self, code: str, message: str, hint: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint
        self.line = line
        self.column = column


@dataclass
class Parsed:
    """The plain value of a file and the positions of its nodes (empty when not recorded)."""

    data: Any
    positions: dict[Path, tuple[int, int]] = field(default_factory=dict)


def _line_col(text: str | bytes, offset: int) -> tuple[int, int]:
    if isinstance(text, bytes):
        text = text[:offset].decode("utf-8", errors="replace")
        offset = len(text)
    before = text[:offset]
    return before.count("\n") + 1, offset - before.rfind("\n")


def read_text(path: FsPath, limit: int) -> str:
    """Read ``path`` as UTF-8 text of at most ``limit`` bytes; a leading BOM is dropped.

    Raises :class:`ParseProblem` for a file too large, not a regular file, binary or not UTF-8, and
    for OS errors (permission denied, vanished).
    """
    # os-level calls: open, fstat, read, close.  A Python file object adds a stat, an isatty ioctl
    # and a seek per file (half the time of reading a config of 1,000 small files).  O_NONBLOCK: a
    # FIFO opens at once (and is then refused as not a regular file) instead of waiting for a writer.
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise ParseProblem(
            "E-FILE-READ", f"cannot read the file: {exc.strerror or exc}", "check the path and its permissions"
        ) from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ParseProblem("E-FILE-READ", "not a regular file", "replace it with a regular file or remove it")
        if info.st_size > limit:
            raise ParseProblem(
                "E-FILE-TOO-LARGE",
                f"file is {info.st_size:,} bytes, over the limit of {limit:,} bytes",
                "split it into smaller files; large data does not belong in config documents",
            )
        # As much as fstat said (a read of limit + 1 bytes would allocate that much for every file);
        # on, up to limit + 1, only when the file grew since.
        raw = _read_up_to(fd, info.st_size + 1)
        if len(raw) == info.st_size + 1:
            raw += _read_up_to(fd, limit + 1 - len(raw))
    except OSError as exc:
        raise ParseProblem(
            "E-FILE-READ", f"cannot read the file: {exc.strerror or exc}", "check the file's permissions"
        ) from exc
    finally:
        os.close(fd)
    if len(raw) > limit:  # grew between stat and read
        raise ParseProblem("E-FILE-TOO-LARGE", f"file is over the limit of {limit:,} bytes", "split it")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ParseProblem("E-ENCODING", "file is UTF-16 encoded", "save the file as UTF-8", 1, 1)
    nul = raw.find(b"\x00")
    if nul >= 0:
        line, column = _line_col(raw, nul)
        raise ParseProblem(
            "E-FILE-BINARY",
            "file is binary (it contains NUL bytes)",
            "config files must be UTF-8 text; remove the file or restore its text",
            line,
            column,
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _line_col(raw, exc.start)
        raise ParseProblem(
            "E-ENCODING",
            f"file is not valid UTF-8 (byte 0x{raw[exc.start]:02x})",
            "save the file as UTF-8",
            line,
            column,
        ) from None
    return text.removeprefix("\ufeff")


def _read_up_to(fd: int, count: int) -> bytes:
    """Up to ``count`` bytes from ``fd`` (fewer only at the end of the file)."""
    chunks = []
    while count > 0:
        chunk = os.read(fd, count)
        if not chunk:
            break
        chunks.append(chunk)
        count -= len(chunk)
    return b"".join(chunks)


def parse_text(text: str, *, json_file: bool = False, positions: bool = True) -> Parsed:
    """Parse one YAML (or, with ``json_file``, JSON) document from ``text``.

    An empty file (or one holding only comments) gives ``Parsed(None)``.  Raises
    :class:`ParseProblem` for syntax errors, several documents, duplicate keys, unsupported tags,
    alias bombs and excessive nesting.
    """
    if json_file:
        return _parse_json(text, positions)
    node = _compose(text)
    if node is None:
        return Parsed(None)
    builder = _Builder(record=positions)
    data = builder.build(node, (), 0)
    return Parsed(data, builder.positions)


def composer_class() -> type[Any]:
    """The class composing YAML text into nodes: libyaml (or pure Python) with 1.2 core typing."""
    if not _LOADERS:
        _LOADERS.append(_loader_class())
    return _LOADERS[0]


def _compose(text: str) -> Node | None:
    loader = composer_class()(text)
    try:
        node: Node | None = loader.get_single_node()
        return node
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
        if exc.context and "single document" in exc.context:
            raise ParseProblem(
                "E-YAML-MULTIDOC",
                "file holds more than one YAML document (a `---` separator)",
                "put each document in its own file",
                line,
                column,
            ) from None
        problem = exc.problem or "invalid YAML"
        context = f" ({exc.context})" if exc.context else ""
        hint = "fix the YAML syntax at this position"
        index = getattr(mark, "index", None)
        if "\\t" in problem or (isinstance(index, int) and text[index : index + 1] == "\t"):
            hint = "YAML does not allow tabs for indentation; indent with spaces"
        raise ParseProblem("E-YAML-SYNTAX", f"invalid YAML: {problem}{context}", hint, line, column) from None
    except yaml.reader.ReaderError as exc:
        line, column = _line_col(text, exc.position)
        raise ParseProblem(
            "E-YAML-SYNTAX",
            f"invalid YAML: unacceptable character {exc.character!r}",
            "remove the control character",
            line,
            column,
        ) from None
    except yaml.YAMLError as exc:
        raise ParseProblem("E-YAML-SYNTAX", f"invalid YAML: {exc}", "fix the YAML syntax") from None
    finally:
        loader.dispose()


class _DuplicateJsonKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _json_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateJsonKey(key)
        out[key] = value
    return out


class _NonFiniteJson(Exception):
    def __init__(self, literal: str) -> None:
        super().__init__(literal)
        self.literal = literal


def _json_constant(name: str) -> Any:
    raise _NonFiniteJson(name)  # NaN, Infinity, -Infinity: Python's json accepts them, JSON does not


def _json_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):  # 1e400 overflows to inf
        raise _NonFiniteJson(literal)
    return value


# A JSON string (skipped), or the literal looked for.
_JSON_STRING = r'"(?:[^"\\]|\\.)*"'


def _json_literal_position(text: str, literal: str) -> tuple[int | None, int | None]:
    """Line and column of the first ``literal`` token outside JSON strings (json.loads does not
    say where a parse hook failed)."""
    token = re.compile(rf"{_JSON_STRING}|(?<![\w.+-])({re.escape(literal)})(?![\w.])")
    for match in token.finditer(text):
        if match.group(1):
            return _line_col(text, match.start(1))
    return None, None


def _parse_json(text: str, positions: bool) -> Parsed:
    if not text.strip():
        return Parsed(None)
    duplicate: str | None = None
    data: Any = None
    try:
        data = json.loads(text, object_pairs_hook=_json_pairs, parse_constant=_json_constant, parse_float=_json_float)
    except json.JSONDecodeError as exc:
        raise ParseProblem(
            "E-JSON-SYNTAX", f"invalid JSON: {exc.msg}", "fix the JSON syntax at this position", exc.lineno, exc.colno
        ) from None
    except _DuplicateJsonKey as exc:
        duplicate = exc.key
    except _NonFiniteJson as exc:
        raise _non_finite(exc.literal, *_json_literal_position(text, exc.literal)) from None
    except ValueError as exc:  # an integer over Python's 4,300-digit limit
        raise ParseProblem("E-JSON-SYNTAX", f"invalid JSON: {exc}", "use a shorter number or a string") from None
    except RecursionError:
        raise ParseProblem("E-YAML-DEPTH", f"nesting deeper than {MAX_DEPTH} levels", "flatten the data") from None
    _check_depth(data)
    found: dict[Path, tuple[int, int]] = {}
    if positions or duplicate is not None:
        try:
            node = _compose(text)
            if node is not None:
                builder = _Builder(record=True)
                builder.build(node, (), 0)
                found = builder.positions
        except ParseProblem as problem:
            if duplicate is not None or problem.code == "E-YAML-DUPKEY":
                raise
            # Valid JSON that libyaml rejects (rare escapes): positions are best-effort.
    if duplicate is not None:
        raise ParseProblem(
            "E-YAML-DUPKEY", f"duplicate key {duplicate!r}", "remove one of the two entries (JSON keeps only the last)"
        )
    return Parsed(data, found)


def _check_depth(data: Any) -> None:
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ParseProblem("E-YAML-DEPTH", f"nesting deeper than {MAX_DEPTH} levels", "flatten the data")
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)


def _mark(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _non_finite(literal: str, line: int | None, column: int | None) -> ParseProblem:
    return ParseProblem(
        "E-YAML-NONFINITE",
        f"{literal} is not a finite number: JSON, and so Vapi's API, has no NaN or Infinity",
        "write a finite number, or quote the value to keep it a string",
        line,
        column,
    )


def _type_phrase(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"


class _Builder:
    """Turns a composed node graph into plain values, recording positions and enforcing limits."""

    def __init__(self, *, record: bool) -> None:
        self.record = record
        self.positions: dict[Path, tuple[int, int]] = {}
        self.count = 0
        self._active: set[int] = set()

    def build(self, node: Node, path: Path, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise ParseProblem(
                "E-YAML-TOO-MANY-NODES",
                f"more than {MAX_NODES:,} values once aliases are expanded (an anchor/alias bomb?)",
                "reduce the use of `*alias` references or split the file",
                *_mark(node),
            )
        if depth > MAX_DEPTH:
            raise ParseProblem(
                "E-YAML-DEPTH", f"nesting deeper than {MAX_DEPTH} levels", "flatten the data", *_mark(node)
            )
        if self.record and path not in self.positions:
            self.positions[path] = _mark(node)
        if isinstance(node, ScalarNode):
            return self._scalar(node)
        if id(node) in self._active:
            raise ParseProblem(
                "E-YAML-ALIAS", "an alias refers to a node that contains it", "remove the recursive alias", *_mark(node)
            )
        self._active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                if node.tag != _SEQ_TAG:
                    raise self._tag_problem(node)
                items = []
                for i, item in enumerate(node.value):
                    if item.__class__ is ScalarNode and item.tag == _STR_TAG:
                        if self.record and (*path, i) not in self.positions:
                            self.positions[(*path, i)] = _mark(item)
                        items.append(self._plain_string(item, depth + 1))
                    else:
                        items.append(self.build(item, (*path, i), depth + 1))
                return items
            if isinstance(node, MappingNode):
                if node.tag != _MAP_TAG:
                    raise self._tag_problem(node)
                return self._mapping(node, path, depth)
            raise self._tag_problem(node)
        finally:
            self._active.discard(id(node))

    def _plain_string(self, node: ScalarNode, depth: int) -> str:
        """``build`` of a string scalar whose position is recorded already (or not wanted)."""
        self.count += 1
        if self.count > MAX_NODES or depth > MAX_DEPTH:
            self.count -= 1
            return str(self.build(node, (), depth))  # raises the limit's problem
        value: str = node.value
        return value

    def _scalar(self, node: ScalarNode) -> Any:
        tag = node.tag
        if tag in (_STR_TAG, _MERGE_TAG):  # `<<` is a merge only as a key
            return node.value
        if tag not in _SCALAR_TAGS:
            raise self._tag_problem(node)
        value: str = node.value
        if tag == _NULL_TAG and value in _CORE_NULL:
            return None
        if tag == _BOOL_TAG and value in _CORE_BOOL:
            return value in _CORE_TRUE
        if tag == _INT_TAG and _CORE_INT.fullmatch(value):
            return self._int(node)
        if tag == _FLOAT_TAG:
            if _CORE_SPECIAL_FLOAT.fullmatch(value):
                raise _non_finite(value, *_mark(node))
            if _CORE_FLOAT.fullmatch(value) or _CORE_INT.fullmatch(value):
                number = float(int(value, 0) if value.startswith(("0o", "0x")) else value)
                if not math.isfinite(number):
                    raise _non_finite(value, *_mark(node))
                return number
        # Only an explicit tag (`!!bool yes`, `!!int 1_000`) gets here: the value is not of that
        # type under YAML 1.2's core schema.
        short = tag.replace("tag:yaml.org,2002:", "!!")
        raise ParseProblem(
            "E-YAML-VALUE",
            f"{value!r} is not a valid {short} value under YAML 1.2",
            "remove the tag, or quote the value to keep it a string",
            *_mark(node),
        )

    @staticmethod
    def _int(node: ScalarNode) -> int:
        value: str = node.value
        try:
            if value.startswith("0o"):
                return int(value[2:], 8)
            if value.startswith("0x"):
                return int(value[2:], 16)
            return int(value, 10)  # "017" is 17 in YAML 1.2: no octal surprise
        except ValueError as exc:  # over Python's 4,300-digit limit for int()
            raise ParseProblem(
                "E-YAML-VALUE",
                f"invalid number {value[:40]!r}: {exc}",
                "quote the value to keep it a string",
                *_mark(node),
            ) from None

    def _tag_problem(self, node: Node) -> ParseProblem:
        return ParseProblem(
            "E-YAML-TAG",
            f"unsupported YAML tag {node.tag!r}",
            "remove the tag; documents hold plain maps, lists, strings, numbers, booleans and null",
            *_mark(node),
        )

    def _mapping(self, node: MappingNode, path: Path, depth: int) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        explicit: dict[str, Any] = {}
        pairs = []
        # Merge keys first, whatever their place in the map, so that explicit keys (and their
        # positions) win as YAML's merge rule says.
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                for source in reversed(self._merge_sources(value_node)):
                    merged.update(self._mapping(source, path, depth + 1))
            else:
                pairs.append((key_node, value_node))
        for key_node, value_node in pairs:
            if not isinstance(key_node, ScalarNode):
                raise ParseProblem(
                    "E-YAML-KEY",
                    "a map key must be a plain value, not a list or map",
                    "use a string key",
                    *_mark(key_node),
                )
            key = key_node.value if key_node.tag == _STR_TAG else self._scalar(key_node)
            if not isinstance(key, str):
                # JSON (and so Vapi's API) has only string keys; YAML 1.2 reads `1:`, `true:` or
                # `null:` as a number, a boolean, null.
                raise ParseProblem(
                    "E-YAML-KEY",
                    f"map key {key_node.value!r} is {_type_phrase(key)}, not a string",
                    f'quote the key: "{key_node.value}":',
                    *_mark(key_node),
                )
            if key in explicit:
                raise ParseProblem(
                    "E-YAML-DUPKEY",
                    f"duplicate key {key!r}",
                    "remove one of the two entries (YAML loaders silently keep only the last)",
                    *_mark(key_node),
                )
            child: Path = (*path, key)
            if self.record:
                self.positions[child] = _mark(key_node)
            if value_node.__class__ is ScalarNode and value_node.tag == _STR_TAG:
                # the common case, without build()'s dispatch; its position is the key's (recorded)
                explicit[key] = self._plain_string(value_node, depth + 1)
            else:
                explicit[key] = self.build(value_node, child, depth + 1)
        if not merged:
            return explicit
        merged.update(explicit)
        return merged

    def _merge_sources(self, node: Node) -> list[MappingNode]:
        if isinstance(node, MappingNode):
            return [node]
        if isinstance(node, SequenceNode) and all(isinstance(item, MappingNode) for item in node.value):
            return list(node.value)
        raise ParseProblem(
            "E-YAML-MERGE", "`<<` must merge a map or a list of maps", "point `<<` at `*anchor`s of maps", *_mark(node)
        )
