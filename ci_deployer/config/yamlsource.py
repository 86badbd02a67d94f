"""Reading YAML and JSON files safely, keeping the line and column of every node.

PyYAML's ``safe_load`` silently keeps the last of two duplicate keys, expands aliases without
bound (the "billion laughs" bomb) and forgets positions.  So files are *composed* with the libyaml
loader (``yaml.CSafeLoader`` when available) and the node graph is turned into plain dicts and lists
here, which lets us:

- record the 1-based ``(line, column)`` of every mapping key and list item by its path;
- refuse duplicate keys (merge keys ``<<`` keep YAML's rule: explicit keys win);
- count every node constructed, alias expansions included, and stop past :data:`MAX_NODES`;
- bound nesting depth and refuse recursive aliases;
- type scalars exactly as ``yaml.safe_load`` does (YAML 1.1: ``yes`` is ``True``, dates are dates).

JSON files are parsed by :mod:`json` (YAML 1.1 would read ``1e5`` as a string) and composed as YAML
only to learn positions.  Reading checks size (``stat`` first), regular file, NUL bytes and UTF-8.
Every problem is a :class:`ParseProblem` with a finding code, a message, a hint and a position.
"""

from __future__ import annotations

import json
import stat
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ci_deployer.paths import Path

MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
MAX_INCLUDE_BYTES = 1 * 1024 * 1024
# A config document has hundreds of nodes; 200k leaves room for big JSON schemas and stops an
# alias bomb (a few hundred bytes that expand to 10^9 nodes) after a fraction of a second.
MAX_NODES = 200_000
# libyaml itself stops at 1000; our walkers are recursive, so stay well under Python's limit.
MAX_DEPTH = 200

_SCALAR_TAGS = frozenset(
    {
        "tag:yaml.org,2002:null",
        "tag:yaml.org,2002:bool",
        "tag:yaml.org,2002:int",
        "tag:yaml.org,2002:float",
        "tag:yaml.org,2002:str",
        "tag:yaml.org,2002:timestamp",
    }
)
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"


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
    try:
        info = path.stat()
    except OSError as exc:
        raise ParseProblem(
            "E-FILE-READ", f"cannot read the file: {exc.strerror or exc}", "check the path and its permissions"
        ) from exc
    if not stat.S_ISREG(info.st_mode):
        raise ParseProblem("E-FILE-READ", "not a regular file", "replace it with a regular file or remove it")
    if info.st_size > limit:
        raise ParseProblem(
            "E-FILE-TOO-LARGE",
            f"file is {info.st_size:,} bytes, over the limit of {limit:,} bytes",
            "split it into smaller files; large data does not belong in config documents",
        )
    try:
        with path.open("rb") as handle:
            raw = handle.read(limit + 1)
    except OSError as exc:
        raise ParseProblem(
            "E-FILE-READ", f"cannot read the file: {exc.strerror or exc}", "check the file's permissions"
        ) from exc
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


def _compose(text: str) -> Node | None:
    loader_class = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader = loader_class(text)
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


def _json_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _parse_json(text: str, positions: bool) -> Parsed:
    if not text.strip():
        return Parsed(None)
    duplicate: str | None = None
    data: Any = None
    try:
        data = json.loads(text, object_pairs_hook=_json_pairs, parse_constant=_json_constant)
    except json.JSONDecodeError as exc:
        raise ParseProblem(
            "E-JSON-SYNTAX", f"invalid JSON: {exc.msg}", "fix the JSON syntax at this position", exc.lineno, exc.colno
        ) from None
    except _DuplicateJsonKey as exc:
        duplicate = exc.key
    except ValueError as exc:
        raise ParseProblem("E-JSON-SYNTAX", f"invalid JSON: {exc}", "use null or a number instead") from None
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


class _Builder:
    """Turns a composed node graph into plain values, recording positions and enforcing limits."""

    def __init__(self, *, record: bool) -> None:
        self.record = record
        self.positions: dict[Path, tuple[int, int]] = {}
        self.count = 0
        self._active: set[int] = set()
        self._scalars = SafeConstructor()

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
                return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
            if isinstance(node, MappingNode):
                if node.tag != _MAP_TAG:
                    raise self._tag_problem(node)
                return self._mapping(node, path, depth)
            raise self._tag_problem(node)
        finally:
            self._active.discard(id(node))

    def _scalar(self, node: ScalarNode) -> Any:
        if node.tag not in _SCALAR_TAGS:
            raise self._tag_problem(node)
        constructor = SafeConstructor.yaml_constructors[node.tag]
        try:
            return constructor(self._scalars, node)
        except (ValueError, OverflowError, yaml.YAMLError) as exc:
            raise ParseProblem(
                "E-YAML-VALUE",
                f"invalid value {node.value!r}: {exc}",
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

    def _mapping(self, node: MappingNode, path: Path, depth: int) -> dict[Any, Any]:
        merged: dict[Any, Any] = {}
        explicit: dict[Any, Any] = {}
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
            key = self._scalar(key_node)
            if key in explicit:
                raise ParseProblem(
                    "E-YAML-DUPKEY",
                    f"duplicate key {key!r}",
                    "remove one of the two entries (YAML loaders silently keep only the last)",
                    *_mark(key_node),
                )
            step = key if isinstance(key, str | int) else str(key)
            child: Path = (*path, step)
            if self.record:
                self.positions[child] = _mark(key_node)
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
