"""Monitoring gate: configurable checks on the desired state, plus manual attestations.

``protection.monitoring`` is a list of rules; each gives one checklist line:

``{require: PATH, includes: [...], kinds: [Assistant], serverUrl: true, name: "..."}``
    every desired resource of ``kinds`` (default ``[Assistant]``) has ``PATH`` (dotted, inside
    ``spec``) set; with ``includes``, a list containing every listed value; with ``serverUrl``, a
    server URL (``server.url``, or the legacy ``serverUrl``) to send them to.  A value left unset
    fails even where Vapi has a default: prod monitoring must be explicit in the config.
``{attest: "Dashboards reviewed"}``
    a person confirms it: satisfied by ``--attest "Dashboards reviewed"`` (exact text), else pending.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from ci_deployer.gates.model import CheckItem

MAX_LISTED = 5


class DesiredResource(Protocol):
    """What a rule reads from a rendered resource (``RenderedResource`` fits)."""

    @property
    def kind(self) -> str: ...

    @property
    def slug(self) -> str: ...

    @property
    def spec(self) -> dict[str, Any]: ...


def _get(spec: Any, dotted: str) -> Any:
    node = spec
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _server_url(spec: dict[str, Any]) -> Any:
    return _get(spec, "server.url") or spec.get("serverUrl")


def _problem(spec: dict[str, Any], rule: dict[str, Any]) -> str | None:
    path = str(rule["require"])
    value = _get(spec, path)
    includes = [str(v) for v in rule.get("includes") or []]
    if value is None or value in ("", []):
        return f"no {path}"
    if includes:
        present = {str(v) for v in value} if isinstance(value, list) else set()
        missing = [v for v in includes if v not in present]
        if missing:
            return f"{path} lacks {', '.join(missing)}"
    if rule.get("serverUrl") and not _server_url(spec):
        return "no server URL"
    return None


def _require_title(rule: dict[str, Any], kinds: list[str]) -> str:
    if rule.get("name"):
        return str(rule["name"])
    what = ", ".join(str(v) for v in rule.get("includes") or []) or str(rule["require"])
    where = " to a server URL" if rule.get("serverUrl") else ""
    return f"Every {'/'.join(kinds)} sends {what}{where}"


def _require(index: int, rule: dict[str, Any], desired: Sequence[DesiredResource] | None) -> CheckItem:
    kinds = [str(k) for k in rule.get("kinds") or ["Assistant"]]
    item_id, title = f"monitoring.{index}", _require_title(rule, kinds)
    hint = f"set {rule['require']} in every {'/'.join(kinds)} (a Policy document applies it to all)"
    if desired is None:
        return CheckItem(item_id, title, "pending", "desired state not rendered", hint=hint)
    checked = [r for r in desired if r.kind in kinds]
    problems = [(r, p) for r in checked if (p := _problem(r.spec, rule)) is not None]
    if not problems:
        return CheckItem(item_id, title, "pass", f"{len(checked)} {'/'.join(kinds)} checked, all compliant")
    listed = "; ".join(f"{r.kind}/{r.slug}: {p}" for r, p in problems[:MAX_LISTED])
    more = f"; and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else ""
    return CheckItem(
        item_id, title, "fail", f"{len(problems)} of {len(checked)} not compliant: {listed}{more}", hint=hint
    )


def check_monitoring(
    rules: list[dict[str, Any]], desired: Sequence[DesiredResource] | None, attestations: set[str]
) -> list[CheckItem]:
    """One line per rule (none configured: a single skipped line)."""
    if not rules:
        return [CheckItem("monitoring", "Monitoring", "skip", "no monitoring checks configured", blocking=False)]
    items: list[CheckItem] = []
    for index, rule in enumerate(rules, start=1):
        if "attest" in rule:
            name = str(rule["attest"])
            item_id = f"monitoring.{index}"
            if name in attestations:
                items.append(CheckItem(item_id, name, "pass", "attested by the operator (--attest)"))
            else:
                items.append(
                    CheckItem(item_id, name, "pending", "not attested yet", hint=f'confirm it with --attest "{name}"')
                )
        elif "require" in rule:
            items.append(_require(index, rule, desired))
        else:
            items.append(
                CheckItem(
                    f"monitoring.{index}",
                    "Monitoring rule",
                    "fail",
                    f"unknown monitoring rule {rule!r}",
                    hint="a rule has `require:` or `attest:`",
                )
            )
    return items
