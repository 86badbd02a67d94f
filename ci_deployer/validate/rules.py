"""Lint rules over the loaded and rendered config (yamllint-style registry).

Two scopes: *repository rules* see the documents as loaded (duplicates, policies, previous names);
*environment rules* see one environment's rendered resources (references, names).  Each rule is a
small function yielding :class:`~ci_deployer.findings.Finding`; the runner calls every registered
rule and deduplicates identical findings across environments.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ci_deployer.config.model import ConfigRepo, Document, Environment, Position, Reference, RenderedResource
from ci_deployer.findings import Finding, Level
from ci_deployer.logsafe import has_controls, printable
from ci_deployer.paths import Path as DataPath
from ci_deployer.paths import format_path, iter_pattern
from ci_deployer.platform import kinds

RepoRule = Callable[[ConfigRepo], Iterable[Finding]]


@dataclass
class EnvContext:
    """What an environment rule sees: the repository, the environment and its rendered resources."""

    repo: ConfigRepo
    env: Environment
    resources: list[RenderedResource]
    broken_files: frozenset[str] = frozenset()  # files with load errors (their documents are missing)
    by_kind: dict[str, dict[str, RenderedResource]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for res in self.resources:
            self.by_kind.setdefault(res.kind, {}).setdefault(res.slug, res)


EnvRule = Callable[[EnvContext], Iterable[Finding]]

REPO_RULES: dict[str, RepoRule] = {}
ENV_RULES: dict[str, EnvRule] = {}


def repo_rule(name: str) -> Callable[[RepoRule], RepoRule]:
    def register(func: RepoRule) -> RepoRule:
        REPO_RULES[name] = func
        return func

    return register


def env_rule(name: str) -> Callable[[EnvRule], EnvRule]:
    def register(func: EnvRule) -> EnvRule:
        ENV_RULES[name] = func
        return func

    return register


def _finding(
    pos: Position, code: str, message: str, hint: str | None, *, level: Level = "error", json_path: str = ""
) -> Finding:
    return Finding(pos.file, pos.line, pos.column, code, message, level, hint, json_path)


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'jira'?)`` or an empty string."""
    close = difflib.get_close_matches(word, sorted(set(candidates)), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _article(word: str) -> str:
    return f"an {word}" if word[:1] in "AEIOU" else f"a {word}"


def _kinds_phrase(names: Iterable[str]) -> str:
    return " or ".join(dict.fromkeys(names))


def _where(doc: Document) -> str:
    pos = doc.position(("metadata", "name"))
    return f"{pos.file}:{pos.line}" if pos.line else pos.file


def get_dotted(spec: Any, dotted: str) -> Any:
    """The value at a dotted path (``function.name``) or None."""
    node = spec
    for step in dotted.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(step)
    return node


def identity_name(kind_name: str, spec: dict[str, Any]) -> tuple[str, str] | None:
    """``(dotted field, name)`` used to identify a live resource by name (function tools:
    ``function.name``), or None for nameless specs."""
    kind = kinds.KINDS.get(kind_name)
    if kind is None or kind.name_field is None:
        return None
    for dotted in (kind.name_field, *kind.alt_name_fields):
        value = get_dotted(spec, dotted)
        if isinstance(value, str) and value:
            return dotted, value
    return None


# --------------------------------------------------------------------------------------------
# repository rules


@repo_rule("duplicate-slug")
def duplicate_slugs(repo: ConfigRepo) -> Iterator[Finding]:
    """Two documents of one kind with the same slug, or a ``previousNames`` entry that another
    document of that kind uses (a rename would adopt the wrong live resource)."""
    for kind_name in dict.fromkeys(d.kind for d in repo.documents):
        seen: dict[str, Document] = {}
        for doc in repo.documents_of(kind_name):
            first = seen.get(doc.slug)
            if first is not None and _overlap(first, doc, repo):
                yield _finding(
                    doc.position(("metadata", "name")),
                    "E-DUP-SLUG",
                    f"duplicate {kind_name} slug '{doc.slug}': also defined at {_where(first)}",
                    "slugs are unique per kind: rename one of them (metadata.name)",
                    json_path="metadata.name",
                )
            seen.setdefault(doc.slug, doc)
        claimed: dict[str, Document] = {}
        for doc in repo.documents_of(kind_name):
            for index, old in enumerate(doc.metadata.previous_names):
                path: DataPath = ("metadata", "previousNames", index)
                owner = seen.get(old)
                if owner is not None and owner is not doc:
                    yield _finding(
                        doc.position(path),
                        "E-DUP-PREVIOUS-NAME",
                        f"previousNames lists '{old}', which is the slug of the {kind_name} at {_where(owner)}",
                        "a previous name must not be in use: drop it from previousNames or rename the other document",
                        json_path=format_path(path),
                    )
                elif old in claimed and claimed[old] is not doc:
                    yield _finding(
                        doc.position(path),
                        "E-DUP-PREVIOUS-NAME",
                        f"previousNames lists '{old}', which {_where(claimed[old])} also claims",
                        "only one document can take over a renamed resource",
                        json_path=format_path(path),
                    )
                claimed.setdefault(old, doc)


def _overlap(a: Document, b: Document, repo: ConfigRepo) -> bool:
    """Same-slug documents limited to disjoint environments do not clash."""
    envs = set(repo.environments) or {"*"}
    in_a = envs if a.metadata.environments is None else set(a.metadata.environments)
    in_b = envs if b.metadata.environments is None else set(b.metadata.environments)
    return bool(in_a & in_b)


@repo_rule("unused-policy")
def unused_policies(repo: ConfigRepo) -> Iterator[Finding]:
    """A Policy no document lists is dead config (the loader reports listed-but-undefined ones)."""
    used = {name for doc in repo.documents for name in doc.policies}
    for doc in repo.documents_of(kinds.POLICY):
        if doc.slug not in used:
            yield _finding(
                doc.position(("metadata", "name")),
                "W-POLICY-UNUSED",
                f"policy '{doc.slug}' is defined but no document lists it in `policies`",
                "list it in the `policies` of the documents it should apply to, or delete it",
                level="warning",
                json_path="metadata.name",
            )


# --------------------------------------------------------------------------------------------
# environment rules


@env_rule("references")
def references(ctx: EnvContext) -> Iterator[Finding]:
    """Every slug reference names an existing resource of a kind the field accepts."""
    for res in ctx.resources:
        for ref in res.refs:
            found = _check_ref(ctx, res, ref)
            if found is not None:
                yield found


def _check_ref(ctx: EnvContext, res: RenderedResource, ref: Reference) -> Finding | None:
    where = format_path(ref.path)
    pos = res.position(ref.path)
    json_path = format_path(ref.path, "spec")
    if kinds.CREDENTIAL in ref.kinds:
        if ref.slug in ctx.env.credentials:
            return None
        return _finding(
            pos,
            "E-REF-CREDENTIAL",
            f"{where} names credential '{ref.slug}', which is not in the `credentials` map of environment "
            f"'{ctx.env.name}'{did_you_mean(ref.slug, ctx.env.credentials)}",
            f"add `{ref.slug}: <credential id>` under environments.{ctx.env.name}.credentials in environments.yaml",
            json_path=json_path,
        )
    if any(ref.slug in ctx.by_kind.get(k, {}) for k in ref.kinds):
        return None
    wanted = _kinds_phrase(ref.kinds)
    other = [k for k, slugs in ctx.by_kind.items() if ref.slug in slugs and k not in ref.kinds]
    other += [d.kind for d in ctx.repo.documents if d.slug == ref.slug and d.kind not in ref.kinds]
    if other:
        return _finding(
            pos,
            "E-REF-WRONG-KIND",
            f"{where} names '{ref.slug}', which is {_article(other[0])}, not {_article(wanted)}",
            f"{where} takes the slug of {_article(wanted)}; check the field or the slug",
            json_path=json_path,
        )
    elsewhere = [d for d in ctx.repo.documents if d.slug == ref.slug and d.kind in ref.kinds]
    if any(d.applies_to(ctx.env.name) for d in elsewhere):
        return None  # defined, but it failed to render: its own finding says why
    if any(Path(f).stem == ref.slug for f in ctx.broken_files):
        return None  # most likely the document that failed to load; its finding says why
    if elsewhere:
        doc = elsewhere[0]
        return _finding(
            pos,
            "E-REF-ENV",
            f"{where} names {doc.kind} '{ref.slug}', which does not exist in environment '{ctx.env.name}' "
            f"(its metadata.environments: {doc.metadata.environments})",
            f"add '{ctx.env.name}' to metadata.environments in {doc.file}, or limit this document the same way",
            json_path=json_path,
        )
    candidates = [slug for k in ref.kinds for slug in ctx.by_kind.get(k, {})]
    return _finding(
        pos,
        "E-REF-DANGLING",
        f"{where} names {wanted} '{ref.slug}', which is not defined{did_you_mean(ref.slug, candidates)}",
        f"define {_article(wanted)} document with metadata.name '{ref.slug}', or fix the slug",
        json_path=json_path,
    )


@env_rule("squad-destinations")
def squad_destinations(ctx: EnvContext) -> Iterator[Finding]:
    """Squad ``assistantDestinations[].assistantName`` must match a rendered assistant name: Vapi
    transfers by name, so a typo only shows up as a failed transfer mid-call."""
    assistants = ctx.by_kind.get("Assistant", {}).values()
    names = {identity[1] for r in assistants if (identity := identity_name("Assistant", r.spec))}
    for squad in ctx.by_kind.get("Squad", {}).values():
        inline = {value for _, value in iter_pattern(squad.spec, "members[].assistant.name") if isinstance(value, str)}
        for path, value in iter_pattern(squad.spec, "members[].assistantDestinations[].assistantName"):
            if not isinstance(value, str) or value in names or value in inline:
                continue
            where = format_path(path)
            yield _finding(
                squad.position(path),
                "W-SQUAD-DEST-NAME",
                f"{where} is '{value}', which is the rendered name of no assistant"
                f"{did_you_mean(value, names | inline)}",
                "assistantName must equal the rendered `name` of an assistant (names may differ per env: "
                "use the same template), or use `assistantId: <slug>` for a handoff destination",
                level="warning",
                json_path=format_path(path, "spec"),
            )


@env_rule("name-length")
def name_length(ctx: EnvContext) -> Iterator[Finding]:
    """Vapi caps names (assistants and structured outputs at 40 characters) and answers 400 on
    create: catch it here, after rendering, with the rendered name."""
    for res in ctx.resources:
        limit = name_limit(res)
        if limit is None:
            continue
        dotted, name, maximum = limit
        path = tuple(dotted.split("."))
        yield _finding(
            res.position(path),
            "E-NAME-TOO-LONG",
            f'{res.kind} {dotted} is {len(name)} characters after rendering ("{printable(name)}"); '
            f"Vapi allows at most {maximum}",
            "shorten it (templates count after rendering: `${{ env.name }}` adds the environment's name)",
            json_path=format_path(path, "spec"),
        )


@env_rule("name-characters")
def name_characters(ctx: EnvContext) -> Iterator[Finding]:
    """A name holding control characters (NUL, an ANSI escape sequence, a bidi override, a line
    break) would reach every terminal, log and PR comment that shows it: names are one plain line."""
    for res in ctx.resources:
        kind = kinds.KINDS.get(res.kind)
        if kind is None or kind.name_field is None:
            continue
        for dotted in (kind.name_field, *kind.alt_name_fields):
            name = get_dotted(res.spec, dotted)
            if not isinstance(name, str) or not (has_controls(name) or "\n" in name or "\t" in name):
                continue
            path = tuple(dotted.split("."))
            yield _finding(
                res.position(path),
                "E-NAME-CONTROL",
                f"{res.kind} {dotted} {name!r} holds a control character or line break (after rendering)",
                "names are one plain line: remove escape sequences, NUL, tabs and line breaks",
                json_path=format_path(path, "spec"),
            )


def name_limit(res: RenderedResource) -> tuple[str, str, int] | None:
    """``(field, name, max)`` when the resource's name exceeds its kind's limit."""
    kind = kinds.KINDS.get(res.kind)
    if kind is None or kind.name_field is None or kind.name_max is None:
        return None
    name = get_dotted(res.spec, kind.name_field)
    if isinstance(name, str) and len(name) > kind.name_max:
        return kind.name_field, name, kind.name_max
    return None


@env_rule("duplicate-names")
def duplicate_names(ctx: EnvContext) -> Iterator[Finding]:
    """Vapi allows two resources with one name, but identity by name (adopting, exports) becomes
    ambiguous, and squads transfer by assistant name."""
    for kind_name, slugs in ctx.by_kind.items():
        seen: dict[str, RenderedResource] = {}
        for res in slugs.values():
            identity = identity_name(kind_name, res.spec)
            if identity is None:
                continue
            dotted, name = identity
            first = seen.get(name)
            if first is None:
                seen[name] = res
                continue
            path = tuple(dotted.split("."))
            yield _finding(
                res.position(path),
                "W-NAME-DUPLICATE",
                f"{kind_name} '{res.slug}' has the same {dotted} as '{first.slug}': \"{printable(name)}\"",
                "give each resource a distinct name; Vapi matches squad destinations and adopted resources by name",
                level="warning",
                json_path=format_path(path, "spec"),
            )


def run_repo_rules(repo: ConfigRepo) -> list[Finding]:
    """Every repository rule's findings."""
    return [finding for rule in REPO_RULES.values() for finding in rule(repo)]


def run_env_rules(
    repo: ConfigRepo,
    env: Environment,
    resources: list[RenderedResource],
    broken_files: frozenset[str] = frozenset(),
) -> list[Finding]:
    """Every environment rule's findings for one environment (``broken_files``: files the loader
    could not turn into documents, so that references to them are not reported twice)."""
    ctx = EnvContext(repo, env, resources, broken_files)
    return [finding for rule in ENV_RULES.values() for finding in rule(ctx)]
