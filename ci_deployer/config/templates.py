"""``${{ … }}`` / ``${% … %}`` templates: Jinja2 in a sandbox that cannot escape or run away.

Only strings containing ``${{``, ``${%`` or ``${#`` are rendered, so Vapi's Liquid (``{{ customer.number
}}``, ``{% if %}``) passes through untouched; a literal ``${{`` is written ``${{ '${{' }}``.  A string
that is exactly one ``${{ expr }}`` keeps the value's type (``"${{ params.temperature }}"`` → ``0.7``).

Guards, all deterministic (no clocks): Jinja's ``ImmutableSandboxedEnvironment`` (no ``__class__``, no unsafe
callables) with ``StrictUndefined``; a step budget shared by every loop iteration and every call
(nested loops and recursive macros stop at :data:`MAX_STEPS`); ``range`` capped by the sandbox; ``*``,
``**`` and ``%`` checked before they build huge values (they are also kept out of constant folding,
which would otherwise run at compile time); integer arguments of calls and filters capped at
:data:`MAX_INT_ARG` (``center(10**9)``); output capped at :data:`MAX_OUTPUT` characters.
"""

from __future__ import annotations

import contextvars
import functools
import re
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # Jinja2 is imported on the first template the name shortcut cannot render
    from jinja2 import nodes
    from jinja2.runtime import Context
    from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_STEPS = 100_000
MAX_OUTPUT = 1_000_000
MAX_INT_ARG = 100_000
_MAX_POW_BITS = 4096
_CACHE_LIMIT = 20_000

_LONE = re.compile(r"^\s*\$\{\{(?P<expr>.*)\}\}\s*$", re.DOTALL)
_FORMAT_NUMBER = re.compile(r"\d{6,}")


class TemplateProblem(Exception):
    """A template that failed: finding code, message (never a secret: templates see params only), hint."""

    def __init__(self, code: str, message: str, hint: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint


class _LimitExceeded(Exception):
    pass


class _Budget:
    __slots__ = ("left",)

    def __init__(self) -> None:
        self.left = MAX_STEPS

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise _LimitExceeded(f"the template ran more than {MAX_STEPS:,} loop iterations and calls")


_budget: contextvars.ContextVar[_Budget] = contextvars.ContextVar("ci_deployer_template_budget")


def _spend() -> None:
    budget = _budget.get(None)
    if budget is not None:
        budget.spend()


def _check_args(args: Iterable[Any]) -> None:
    for arg in args:
        if isinstance(arg, int) and not isinstance(arg, bool) and abs(arg) > MAX_INT_ARG:
            raise _LimitExceeded(f"a call argument of {arg:,} is over the limit of {MAX_INT_ARG:,}")


def _check_format(text: Any) -> None:
    if isinstance(text, str) and _FORMAT_NUMBER.search(text) and ("%" in text or "{" in text):
        raise _LimitExceeded("a format width or precision is too large")


def _budgeted(iterable: Any) -> Iterator[Any]:
    for item in iterable:
        _spend()
        yield item


def _guard_filter(func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _spend()
        _check_args(args)
        _check_args(kwargs.values())
        if func.__name__ == "do_format" and args:
            _check_format(args[0])
        return func(*args, **kwargs)

    return guarded


@functools.cache
def _sandbox_class() -> type[ImmutableSandboxedEnvironment]:
    """The sandbox class, built (and Jinja2 imported) on first use: configs whose templates are all
    ``${{ name.path }}`` never pay for Jinja2's import."""
    from jinja2 import nodes
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class _BoundedSandbox(ImmutableSandboxedEnvironment):
        """The immutable sandbox (params cannot be changed by one template for the next) plus budgets."""

        intercepted_binops = frozenset({"*", "**", "%"})

        def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
            if (
                operator == "**"
                and isinstance(left, int)
                and isinstance(right, int)
                and right > 0
                and abs(left) > 1
                and abs(left).bit_length() * right > _MAX_POW_BITS
            ):
                raise _LimitExceeded("a power is too large")
            if operator == "*":
                for seq, n in ((left, right), (right, left)):
                    if isinstance(seq, str | list | tuple) and isinstance(n, int) and len(seq) * n > MAX_OUTPUT:
                        raise _LimitExceeded("a repetition builds a value that is too large")
            if operator == "%":
                _check_format(left)
            return super().call_binop(context, operator, left, right)

        def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
            _spend()
            _check_args(args)
            _check_args(kwargs.values())
            return super().call(context, obj, *args, **kwargs)

        def getattr(self, obj: Any, attribute: str) -> Any:
            # Config data first: `params.items` is the param named "items", not dict.items.
            if isinstance(obj, dict) and attribute in obj:
                return obj[attribute]
            if isinstance(obj, str) and attribute in ("format", "format_map"):
                _check_format(obj)
            return super().getattr(obj, attribute)

        def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
            tree = super()._parse(source, name, filename)
            # Every for loop iterates through the budget, however it gets its items.
            for loop in tree.find_all(nodes.For):
                loop.iter = nodes.Filter(loop.iter, "_ci_budget", [], [], None, None, lineno=loop.lineno)
            return tree

    return _BoundedSandbox


def needs_render(text: str) -> bool:
    """True when ``text`` holds a ``${{``, ``${%`` or ``${#`` tag (anything else is left as is)."""
    return "${" in text and ("${{" in text or "${%" in text or "${#" in text)


class TemplateEngine:
    """Renders template strings with a shared, cached sandbox; one per process is enough."""

    def __init__(self) -> None:
        self._sandbox: ImmutableSandboxedEnvironment | None = None
        self._compiled: dict[str, Callable[[dict[str, Any]], Any]] = {}

    @property
    def _env(self) -> ImmutableSandboxedEnvironment:
        if self._sandbox is None:
            self._sandbox = self._build()
        return self._sandbox

    @staticmethod
    def _build() -> ImmutableSandboxedEnvironment:
        from jinja2 import StrictUndefined

        env = _sandbox_class()(
            variable_start_string="${{",
            variable_end_string="}}",
            block_start_string="${%",
            block_end_string="%}",
            comment_start_string="${#",
            comment_end_string="#}",
            undefined=StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,  # prompts keep their final newline
        )
        env.filters = {name: _guard_filter(f) for name, f in env.filters.items()}
        env.filters["_ci_budget"] = _budgeted
        return env

    def render(self, text: str, context: dict[str, Any]) -> Any:
        """Render ``text``; a lone ``${{ expr }}`` returns the typed value.  Raises TemplateProblem."""
        fast = _substitute_names(text, context)
        if fast is not _NO_SHORTCUT:
            return fast
        from jinja2 import TemplateSyntaxError, UndefinedError
        from jinja2.exceptions import SecurityError

        token = _budget.set(_Budget())
        try:
            return self._compile(text)(context)
        except TemplateProblem:
            raise
        except TemplateSyntaxError as exc:
            raise TemplateProblem(
                "E-TEMPLATE-SYNTAX",
                f"template syntax error in {_excerpt(text)}: {exc.message} (template line {exc.lineno})",
                "fix the ${{ … }} / ${% … %} syntax; Liquid for Vapi is written {{ … }} without the $",
            ) from None
        except SecurityError as exc:
            raise TemplateProblem(
                "E-TEMPLATE-SANDBOX",
                f"template {_excerpt(text)} was refused by the sandbox: {exc}",
                "templates may only read env.name, env.org and params.*",
            ) from None
        except UndefinedError as exc:
            raise TemplateProblem(
                "E-TEMPLATE-UNDEFINED",
                f"undefined value in template {_excerpt(text)}: {exc.message}",
                _undefined_hint(exc.message or "", context),
            ) from None
        except (_LimitExceeded, OverflowError, RecursionError, MemoryError) as exc:
            raise TemplateProblem(
                "E-TEMPLATE-LIMIT",
                f"template {_excerpt(text)} exceeded a limit: {exc or type(exc).__name__}",
                "templates are for small substitutions; move data into params or included files",
            ) from None
        except Exception as exc:  # any other error raised while rendering user code
            raise TemplateProblem(
                "E-TEMPLATE-ERROR",
                f"template {_excerpt(text)} failed: {type(exc).__name__}: {exc}",
                "fix the expression",
            ) from None
        finally:
            _budget.reset(token)

    def _compile(self, text: str) -> Callable[[dict[str, Any]], Any]:
        from jinja2.runtime import Undefined

        compiled = self._compiled.get(text)
        if compiled is not None:
            return compiled
        lone = _LONE.match(text)
        if lone is not None and "}}" not in lone["expr"] and "${" not in lone["expr"]:
            expression = self._env.compile_expression(lone["expr"], undefined_to_none=False)

            def compiled(context: dict[str, Any]) -> Any:
                value = expression(**context)
                if isinstance(value, Undefined):
                    str(value)  # raises the undefined (or sandbox) error with Jinja's message
                return _plain(value, text)

        else:
            template = self._env.from_string(text)

            def compiled(context: dict[str, Any]) -> Any:
                out: list[str] = []
                size = 0
                for piece in template.generate(**context):
                    size += len(piece)
                    if size > MAX_OUTPUT:
                        raise _LimitExceeded(f"the output is over {MAX_OUTPUT:,} characters")
                    out.append(piece)
                return "".join(out)

        if len(self._compiled) >= _CACHE_LIMIT:
            self._compiled.clear()
        self._compiled[text] = compiled
        return compiled


_NO_SHORTCUT = object()
_NAME_TAG = re.compile(r"\$\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*\}\}")


def _substitute_names(text: str, context: dict[str, Any]) -> Any:
    """The common case without Jinja: every tag is ``${{ a.b.c }}`` naming existing data.

    Compiling a Jinja template costs ~0.2 ms and most strings are unique (they embed the slug), so
    a thousand documents would spend most of their time compiling.  Anything else (blocks, filters,
    missing names, values Jinja would print as a Python repr, CR newlines) goes to Jinja, which
    gives the same result and the proper error messages.
    """
    if "${%" in text or "${#" in text or "\r" in text:
        return _NO_SHORTCUT
    pieces = _NAME_TAG.split(text)
    if any("${{" in literal for literal in pieces[::2]):
        return _NO_SHORTCUT
    values: list[Any] = []
    for name in pieces[1::2]:
        value: Any = context
        for step in name.split("."):
            if not isinstance(value, dict) or step not in value:
                return _NO_SHORTCUT
            value = value[step]
        values.append(value)
    if len(values) == 1 and not pieces[0].strip() and not pieces[2].strip():
        return _plain(values[0], text)
    if not all(v is None or isinstance(v, str | int | float) for v in values):
        return _NO_SHORTCUT
    out = list(pieces)
    out[1::2] = [str(v) for v in values]
    return "".join(out)


def _plain(value: Any, text: str) -> Any:
    """A JSON-like deep copy of a lone expression's value (params must not be shared between specs)."""
    if value is None or isinstance(value, bool | int | float | str):
        return str(value) if isinstance(value, str) else value
    if isinstance(value, list | tuple):
        return [_plain(v, text) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v, text) for k, v in value.items()}
    raise TemplateProblem(
        "E-TEMPLATE-TYPE",
        f"template {_excerpt(text)} gives a {type(value).__name__}, not a JSON value",
        "make the expression give a string, number, boolean, null, list or map (e.g. add `|list`)",
    )


def _excerpt(text: str) -> str:
    one_line = " ".join(text.split())
    return f"`{one_line[:77]}…`" if len(one_line) > 80 else f"`{one_line}`"


_UNDEFINED_NAME = re.compile(r"has no attribute '([^']+)'|'([^']+)' is undefined")


def _undefined_hint(message: str, context: dict[str, Any]) -> str:
    from ci_deployer.config._util import did_you_mean

    match = _UNDEFINED_NAME.search(message)
    name = next((g for g in match.groups() if g), "") if match else ""
    params = context.get("params")
    known = [*context, *(params if isinstance(params, dict) else {}), "name", "org"]
    suggestion = did_you_mean(name, known) if name else ""
    return (
        f"define it in environments.yaml (defaults.params or the environment's params){suggestion}; "
        "templates see env.name, env.org and params.*"
    )
