"""GitHub Actions expressions: ``${{ … }}`` templates and ``if:`` conditions.

Semantics follow GitHub's docs ("Evaluate expressions in workflows and actions"):

- literals: ``null``, ``true``/``false``, numbers, ``'strings'`` (a quote is doubled: ``'it''s'``);
- property access ``a.b``, ``a['b']`` (names are case-insensitive; a missing property is ``null``)
  and the object filter ``a.*.b``;
- operators, loosest first: ``||``, ``&&``, ``==``/``!=``, ``<``/``<=``/``>``/``>=``, ``!``, ``( )``.
  ``&&`` and ``||`` return an operand, not a boolean (so ``a && b || c`` is a ternary); comparisons
  are loose: differing types are coerced to numbers, strings compare case-insensitively;
- falsy values: ``false``, ``0``, ``-0``, ``""``, ``null``, ``NaN``;
- functions: ``contains``, ``startsWith``, ``endsWith``, ``format``, ``join``, ``toJSON``,
  ``fromJSON`` and the status checks ``always()``, ``success()``, ``failure()``, ``cancelled()``.

``hashFiles`` and ``case`` are not supported (an :class:`ExpressionError` says so).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


class ExpressionError(ValueError):
    """An expression that cannot be parsed or evaluated."""


@dataclass(frozen=True)
class Status:
    """What the status functions answer for the job or step being evaluated."""

    success: bool = True
    failure: bool = False
    cancelled: bool = False


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^']|'')*')
      | (?P<number>0x[0-9a-fA-F]+|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
      | (?P<op>==|!=|<=|>=|&&|\|\||[<>!().,\[\]*])
      | (?P<name>[A-Za-z_][A-Za-z0-9_-]*)
    )""",
    re.VERBOSE,
)
STATUS_FUNCTIONS = ("always", "success", "failure", "cancelled")


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise ExpressionError(f"unexpected character at {pos} in {text!r}")
        kind = match.lastgroup
        assert kind is not None
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


Node = tuple[Any, ...]


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            raise ExpressionError(f"expected {value or 'more'} in {self.text!r}")
        self.pos += 1
        return token

    def at(self, value: str) -> bool:
        token = self.peek()
        return token is not None and token[0] == "op" and token[1] == value

    def parse(self) -> Node:
        node = self.or_()
        if self.peek() is not None:
            raise ExpressionError(f"unexpected {self.peek()[1]!r} in {self.text!r}")  # type: ignore[index]
        return node

    def or_(self) -> Node:
        node = self.and_()
        while self.at("||"):
            self.take()
            node = ("or", node, self.and_())
        return node

    def and_(self) -> Node:
        node = self.equality()
        while self.at("&&"):
            self.take()
            node = ("and", node, self.equality())
        return node

    def equality(self) -> Node:
        node = self.comparison()
        while self.at("==") or self.at("!="):
            op = self.take()[1]
            node = ("cmp", op, node, self.comparison())
        return node

    def comparison(self) -> Node:
        node = self.unary()
        while any(self.at(op) for op in ("<", "<=", ">", ">=")):
            op = self.take()[1]
            node = ("cmp", op, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.at("!"):
            self.take()
            return ("not", self.unary())
        return self.postfix()

    def postfix(self) -> Node:
        node = self.primary()
        while True:
            if self.at("."):
                self.take()
                if self.at("*"):
                    self.take()
                    node = ("filter", node)
                    continue
                kind, name = self.take()
                if kind != "name":
                    raise ExpressionError(f"expected a property name after '.' in {self.text!r}")
                node = ("prop", node, ("lit", name))
            elif self.at("["):
                self.take()
                if self.at("*"):
                    self.take()
                    self.take("]")
                    node = ("filter", node)
                    continue
                index = self.or_()
                self.take("]")
                node = ("prop", node, index)
            else:
                return node

    def primary(self) -> Node:
        kind, value = self.take()
        if kind == "string":
            return ("lit", value[1:-1].replace("''", "'"))
        if kind == "number":
            number = float(int(value, 16)) if value.lower().startswith("0x") else float(value)
            return ("lit", number)
        if kind == "op" and value == "(":
            node = self.or_()
            self.take(")")
            return node
        if kind == "name":
            if value == "true":
                return ("lit", True)
            if value == "false":
                return ("lit", False)
            if value == "null":
                return ("lit", None)
            if self.at("("):
                self.take()
                args: list[Node] = []
                while not self.at(")"):
                    args.append(self.or_())
                    if not self.at(")"):
                        self.take(",")
                self.take(")")
                return ("call", value, args)
            return ("ctx", value)
        raise ExpressionError(f"unexpected {value!r} in {self.text!r}")


def parse(text: str) -> Node:
    """The syntax tree of an expression (without ``${{ }}``)."""
    return _Parser(text).parse()


# -- values ------------------------------------------------------------------------------------------------


def truthy(value: Any) -> bool:
    """GitHub's truthiness: false, 0, -0, "", null and NaN are falsy; objects and arrays truthy."""
    if value is None or value is False:
        return False
    if isinstance(value, float | int) and not isinstance(value, bool):
        return not (value == 0 or math.isnan(value))
    if isinstance(value, str):
        return value != ""
    return True


def to_number(value: Any) -> float:
    """GitHub's coercion to a number (for comparisons of differing types)."""
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return 0.0
        try:
            return float(int(text, 16)) if text.lower().startswith("0x") else float(json.loads(text))
        except (ValueError, TypeError):
            return math.nan
    return math.nan


def to_str(value: Any) -> str:
    """A value as GitHub writes it into a string (null → "", true → "true", 1.0 → "1")."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2)


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.casefold() == b.casefold()
    if type(a) is type(b) and isinstance(a, dict | list):
        return a is b
    if a is None and b is None:
        return True
    if isinstance(a, bool) and isinstance(b, bool):
        return a == b
    x, y = to_number(a), to_number(b)
    return not (math.isnan(x) or math.isnan(y)) and x == y


def _compare(op: str, a: Any, b: Any) -> bool:
    if op == "==":
        return _equal(a, b)
    if op == "!=":
        return not _equal(a, b)
    if isinstance(a, str) and isinstance(b, str):
        x: Any
        y: Any
        x, y = a.casefold(), b.casefold()
    else:
        x, y = to_number(a), to_number(b)
        if math.isnan(x) or math.isnan(y):
            return False
    return bool({"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op])


class _Filtered(list[Any]):
    """The result of an object filter (``a.*``): a property access maps over its elements."""


def _property(obj: Any, key: Any) -> Any:
    if isinstance(obj, _Filtered):
        return _Filtered(v for v in (_property(item, key) for item in obj) if v is not None)
    if isinstance(obj, Mapping):
        name = to_str(key)
        if name in obj:
            return obj[name]
        folded = name.casefold()
        return next((v for k, v in obj.items() if str(k).casefold() == folded), None)
    if isinstance(obj, list):
        number = to_number(key)
        if not math.isnan(number) and number.is_integer() and 0 <= int(number) < len(obj):
            return obj[int(number)]
    return None


def _format(template: str, *args: Any) -> str:
    def replace(match: re.Match[str]) -> str:
        text = match.group(0)
        if text == "{{":
            return "{"
        if text == "}}":
            return "}"
        index = int(match.group(1))
        if index >= len(args):
            raise ExpressionError(f"format: no argument {index}")
        return to_str(args[index])

    return re.sub(r"\{\{|\}\}|\{(\d+)\}", replace, template)


def _contains(search: Any, item: Any) -> bool:
    if isinstance(search, list):
        return any(_equal(element, item) for element in search)
    return to_str(item).casefold() in to_str(search).casefold()


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "contains": _contains,
    "startswith": lambda a, b: to_str(a).casefold().startswith(to_str(b).casefold()),
    "endswith": lambda a, b: to_str(a).casefold().endswith(to_str(b).casefold()),
    "format": lambda template, *args: _format(to_str(template), *args),
    "join": lambda items, sep=",": (
        to_str(sep).join(to_str(i) for i in items) if isinstance(items, list) else to_str(items)
    ),
    "tojson": lambda value: json.dumps(value, indent=2),
    "fromjson": lambda text: json.loads(to_str(text)),
}


class Evaluator:
    """Evaluates expressions against contexts (``github``, ``env``, ``secrets``, ``steps``, …)."""

    def __init__(self, contexts: Mapping[str, Any], status: Status | None = None) -> None:
        self.contexts = contexts
        self.status = status or Status()

    def evaluate(self, expression: str) -> Any:
        """The value of one expression (the text inside ``${{ }}``)."""
        return self._eval(parse(expression))

    def _eval(self, node: Node) -> Any:
        kind = node[0]
        if kind == "lit":
            return node[1]
        if kind == "ctx":
            return _property(self.contexts, node[1])
        if kind == "prop":
            return _property(self._eval(node[1]), self._eval(node[2]))
        if kind == "filter":
            base = self._eval(node[1])
            return _Filtered(base.values() if isinstance(base, Mapping) else base if isinstance(base, list) else [])
        if kind == "not":
            return not truthy(self._eval(node[1]))
        if kind == "and":
            left = self._eval(node[1])
            return self._eval(node[2]) if truthy(left) else left
        if kind == "or":
            left = self._eval(node[1])
            return left if truthy(left) else self._eval(node[2])
        if kind == "cmp":
            return _compare(node[1], self._eval(node[2]), self._eval(node[3]))
        if kind == "call":
            return self._call(node[1], node[2])
        raise ExpressionError(f"unknown node {kind}")

    def _call(self, name: str, args: list[Node]) -> Any:
        lowered = name.lower()
        if lowered == "always":
            return True
        if lowered == "success":
            return self.status.success and not self.status.cancelled
        if lowered == "failure":
            return self.status.failure
        if lowered == "cancelled":
            return self.status.cancelled
        function = _FUNCTIONS.get(lowered)
        if function is None:
            raise ExpressionError(f"function {name}() is not supported by the harness")
        values = [self._eval(arg) for arg in args]
        try:
            return function(*values)
        except TypeError as exc:
            raise ExpressionError(f"{name}(): {exc}") from exc

    # -- templates and conditions --------------------------------------------------------------------

    def render(self, value: Any) -> Any:
        """``value`` with every ``${{ … }}`` in its strings replaced (maps and lists recursively)."""
        if isinstance(value, str):
            return self.render_string(value)
        if isinstance(value, list):
            return [self.render(v) for v in value]
        if isinstance(value, Mapping):
            return {k: self.render(v) for k, v in value.items()}
        return value

    def render_string(self, text: str) -> str:
        """A string with its ``${{ … }}`` expressions replaced by their values as strings."""
        out: list[str] = []
        for literal, expression in split_template(text):
            out.append(literal)
            if expression is not None:
                out.append(to_str(self.evaluate(expression)))
        return "".join(out)

    def value(self, text: str) -> Any:
        """A string that is exactly one ``${{ … }}`` keeps its value's type; other strings are rendered."""
        parts = split_template(text.strip())
        if len(parts) == 2 and parts[0][0] == "" and parts[0][1] is not None and parts[1] == ("", None):
            return self.evaluate(parts[0][1])
        return self.render_string(text)

    def condition(self, text: Any, *, default: str = "success()") -> bool:
        """An ``if:`` value: with or without ``${{ }}``; without a status function it is
        ``success() && (…)`` (GitHub docs, "Status check functions")."""
        if text is None or (isinstance(text, str) and text.strip() == ""):
            text = default
        if isinstance(text, bool):
            return text and self._call("success", [])
        expression = str(text).strip()
        whole = re.fullmatch(r"\$\{\{(.*)\}\}", expression, re.DOTALL)
        if whole and "${{" not in whole.group(1):
            expression = whole.group(1).strip()
        elif "${{" in expression:
            return truthy(self.render_string(expression))
        if not _uses_status_function(parse(expression)):
            expression = f"success() && ({expression})"
        return truthy(self.evaluate(expression))


def _uses_status_function(node: Node) -> bool:
    if node[0] == "call" and node[1].lower() in STATUS_FUNCTIONS:
        return True
    return any(_uses_status_function(child) for child in _children(node))


def _children(node: Node) -> list[Node]:
    kind = node[0]
    if kind in ("prop",):
        return [node[1], node[2]]
    if kind in ("not", "filter"):
        return [node[1]]
    if kind in ("and", "or"):
        return [node[1], node[2]]
    if kind == "cmp":
        return [node[2], node[3]]
    if kind == "call":
        return list(node[2])
    return []


def split_template(text: str) -> list[tuple[str, str | None]]:
    """``[(literal, expression or None), …]`` for a string holding ``${{ … }}`` parts."""
    parts: list[tuple[str, str | None]] = []
    pos = 0
    while True:
        start = text.find("${{", pos)
        if start < 0:
            parts.append((text[pos:], None))
            return parts
        i = start + 3
        in_string = False
        while i < len(text):
            if text[i] == "'":
                in_string = not in_string  # a doubled quote toggles twice: still right
            elif not in_string and text.startswith("}}", i):
                break
            i += 1
        else:
            raise ExpressionError(f"unterminated ${{{{ in {text!r}")
        parts.append((text[pos:start], text[start + 3 : i].strip()))
        pos = i + 2
