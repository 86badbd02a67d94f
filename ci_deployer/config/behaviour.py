"""The behavioural tests' config: ``test:`` blocks on Eval documents, ``smoke:`` cases on Tool documents.

An Eval document may carry, beside ``spec`` (Vapi's ``CreateEvalDTO``), a block that says where it runs::

    test:
      targets: [assistant/billing-agent, squad/front-door]   # kind/slug, resolved per environment
      environments: [dev, uat]          # default: every environment without protection
      canary: true                      # also run in protected environments right after an apply

A Tool document may carry smoke cases, calls made to the tool's server the way Vapi would make them::

    smoke:
      - name: known-order
        arguments: {orderNumber: "10042"}       # the function call's arguments (default {})
        expect:
          status: 200                           # HTTP status (default 200)
          json: {type: object, required: [status]}   # a JSON Schema the answer must satisfy
          regex: "shipped|delivered"            # searched in the answer (Python syntax)
          error: false                          # the answer is the tool's `error` (default: its `result`)
          maxLatencyMs: 2000                    # slower answers fail
        timeoutSeconds: 5                       # default: the tool's own timeout (Vapi: 20 s)
        environments: [dev, uat]                # default: every environment without protection

The blocks are data, not templates: nothing in them is rendered.  Every problem is a located finding
(:func:`check_repo`, run by ``ci-deployer validate``); the runners re-read the blocks with
:func:`eval_test` and :func:`smoke_cases`, which skip what validation reports.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath
from typing import Any

from ci_deployer.config._util import did_you_mean, finding
from ci_deployer.config.model import ConfigRepo, Document, Environment, RenderedResource
from ci_deployer.findings import Finding
from ci_deployer.paths import Path
from ci_deployer.platform.kinds import POLICY

EVAL = "Eval"
TOOL = "Tool"
TEST_KEYS = ("targets", "environments", "canary")
SMOKE_KEYS = ("name", "arguments", "expect", "timeoutSeconds", "environments")
EXPECT_KEYS = ("status", "json", "regex", "error", "maxLatencyMs")
# What an eval can run against (EvalRunTargetAssistant / EvalRunTargetSquad in Vapi's spec).
TARGET_KINDS = {"assistant": "Assistant", "squad": "Squad"}
# Vapi's Server.timeoutSeconds and CreateApiRequestToolDTO.timeoutSeconds: 1..300, "Defaults to 20 seconds".
DEFAULT_TOOL_TIMEOUT = 20.0
MAX_TIMEOUT = 300.0
# Tool types that call no server of yours (Vapi handles them): nothing to smoke-test.
NO_SERVER_TYPES = frozenset({"endCall", "transferCall", "handoff", "dtmf", "voicemail", "query", "knowledgeBase"})


@dataclass(frozen=True)
class Target:
    """An assistant or squad an eval runs against: ``assistant/billing-agent``."""

    kind: str  # "Assistant" | "Squad"
    slug: str

    @property
    def label(self) -> str:
        return f"{self.kind.lower()}/{self.slug}"

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.slug}"


@dataclass(frozen=True)
class EvalTest:
    """An Eval's ``test:`` block."""

    targets: tuple[Target, ...]
    environments: tuple[str, ...] | None = None  # None: every environment without protection
    canary: bool = False


@dataclass(frozen=True)
class SmokeExpect:
    """What a smoke case expects of the answer."""

    status: int = 200
    json_schema: dict[str, Any] | None = None
    regex: str | None = None
    error: bool = False
    max_latency_ms: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status}
        if self.json_schema is not None:
            out["json"] = self.json_schema
        if self.regex is not None:
            out["regex"] = self.regex
        if self.error:
            out["error"] = True
        if self.max_latency_ms is not None:
            out["maxLatencyMs"] = self.max_latency_ms
        return out


@dataclass(frozen=True)
class SmokeCase:
    """One smoke call of a tool."""

    name: str
    index: int  # position in the `smoke:` list
    arguments: dict[str, Any] = field(default_factory=dict)
    expect: SmokeExpect = field(default_factory=SmokeExpect)
    timeout_seconds: float | None = None  # None: the tool's own timeout
    environments: tuple[str, ...] | None = None


def runs_in(environments: Sequence[str] | None, environment: Environment) -> bool:
    """Whether a test with ``environments`` (None: the default) runs in ``environment``: the listed
    ones, or by default every environment without protection (tests there may write, call, cost)."""
    if environments is not None:
        return environment.name in environments
    return environment.protection is None


# -- parsing ------------------------------------------------------------------------------------------


class _Check:
    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.findings: list[Finding] = []

    def add(self, path: Path, code: str, message: str, hint: str, *, warn: bool = False) -> None:
        pos = self.doc.position(path)
        self.findings.append(
            finding(
                self.doc.file,
                (pos.line, pos.column),
                code,
                message,
                hint,
                path=path,
                level="warning" if warn else "error",
            )
        )

    def unknown(self, data: Mapping[Any, Any], allowed: tuple[str, ...], path: Path, what: str) -> None:
        for key in data:
            if key not in allowed:
                self.add(
                    (*path, key),
                    "E-TEST-KEY",
                    f"unknown key {key!r} in {what}{did_you_mean(str(key), allowed)}",
                    f"{what} holds {', '.join(allowed)}",
                )

    def env_list(self, value: Any, path: Path, known: Mapping[str, Environment]) -> tuple[str, ...] | None:
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.add(path, "E-TEST-TYPE", "environments must be a list of environment names", "e.g. [dev, uat]")
            return None
        for i, name in enumerate(value):
            if known and name not in known:
                self.add(
                    (*path, i),
                    "E-TEST-ENV",
                    f"unknown environment {name!r}{did_you_mean(name, known)}",
                    f"environments.yaml defines {', '.join(known)}",
                )
        if not value:
            self.add(path, "W-TEST-NOWHERE", "environments is empty: this test runs nowhere", "list envs", warn=True)
        return tuple(value)


def parse_target(text: Any) -> Target | None:
    """``"assistant/billing-agent"`` → :class:`Target`; None when malformed."""
    if not isinstance(text, str):
        return None
    kind, sep, slug = text.partition("/")
    target_kind = TARGET_KINDS.get(kind)
    if not sep or target_kind is None or not slug:
        return None
    return Target(target_kind, slug)


def _eval_test(
    doc: Document, repo: ConfigRepo | None, broken_files: frozenset[str] = frozenset()
) -> tuple[EvalTest | None, list[Finding]]:
    check = _Check(doc)
    raw = doc.test
    if not isinstance(raw, dict):
        check.add(("test",), "E-TEST-TYPE", "test must be a map", "e.g. test: {targets: [assistant/order-agent]}")
        return None, check.findings
    check.unknown(raw, TEST_KEYS, ("test",), "test")
    targets: list[Target] = []
    raw_targets = raw.get("targets")
    if not isinstance(raw_targets, list) or not raw_targets:
        check.add(
            ("test", "targets"),
            "E-TEST-TARGET",
            "test.targets must be a non-empty list of assistant/SLUG or squad/SLUG",
            "e.g. targets: [assistant/order-agent]",
        )
    else:
        for i, text in enumerate(raw_targets):
            target = parse_target(text)
            if target is None:
                kind = text.partition("/")[0] if isinstance(text, str) else ""
                check.add(
                    ("test", "targets", i),
                    "E-TEST-TARGET",
                    f"target {text!r} is not assistant/SLUG or squad/SLUG{did_you_mean(kind, TARGET_KINDS)}",
                    "an eval runs against an assistant or a squad, named kind/slug: assistant/order-agent",
                )
                continue
            if target in targets:
                check.add(
                    ("test", "targets", i),
                    "W-TEST-DUPLICATE",
                    f"{target.label} is listed twice",
                    "remove it",
                    warn=True,
                )
                continue
            if repo is not None:
                slugs = [d.slug for d in repo.documents_of(target.kind)]
                if target.slug not in slugs and any(PurePosixPath(f).stem == target.slug for f in broken_files):
                    continue  # most likely the document that failed to load: its own finding says why
                if target.slug not in slugs:
                    check.add(
                        ("test", "targets", i),
                        "E-TEST-TARGET-UNKNOWN",
                        f"no {target.kind} named {target.slug!r}{did_you_mean(target.slug, slugs)}",
                        f"targets name a {target.kind} document by its metadata.name",
                    )
                    continue
            targets.append(target)
    environments = check.env_list(raw.get("environments"), ("test", "environments"), repo.environments if repo else {})
    canary = raw.get("canary", False)
    if not isinstance(canary, bool):
        check.add(("test", "canary"), "E-TEST-TYPE", "test.canary must be true or false", "write canary: true")
        canary = False
    if not targets:
        return None, check.findings
    return EvalTest(tuple(targets), environments, canary), check.findings


def _smoke_cases(doc: Document, repo: ConfigRepo | None) -> tuple[list[SmokeCase], list[Finding]]:
    check = _Check(doc)
    raw = doc.smoke
    if not isinstance(raw, list):
        check.add(("smoke",), "E-SMOKE-TYPE", "smoke must be a list of cases", "e.g. smoke: [{name: known-order}]")
        return [], check.findings
    cases: list[SmokeCase] = []
    names: set[str] = set()
    for i, item in enumerate(raw):
        path: Path = ("smoke", i)
        if not isinstance(item, dict):
            check.add(path, "E-SMOKE-TYPE", "a smoke case must be a map", "give it at least a name")
            continue
        before = len(check.findings)
        check.unknown(item, SMOKE_KEYS, path, "a smoke case")
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            check.add((*path, "name"), "E-SMOKE-NAME", "a smoke case needs a name", "e.g. name: known-order")
        elif name in names:
            check.add((*path, "name"), "E-SMOKE-NAME", f"smoke case {name!r} is defined twice", "rename one")
        else:
            names.add(name)
        arguments = item.get("arguments", {})
        if not isinstance(arguments, dict):
            check.add((*path, "arguments"), "E-SMOKE-TYPE", "arguments must be a map", "e.g. {orderNumber: '10042'}")
            arguments = {}
        expect = _expect(check, item.get("expect"), (*path, "expect"))
        timeout = item.get("timeoutSeconds")
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= MAX_TIMEOUT
        ):
            check.add(
                (*path, "timeoutSeconds"),
                "E-SMOKE-VALUE",
                f"timeoutSeconds must be a number above 0 and at most {MAX_TIMEOUT:g}",
                "leave it out to use the tool's own timeout",
            )
            timeout = None
        environments = check.env_list(
            item.get("environments"), (*path, "environments"), repo.environments if repo else {}
        )
        if len(check.findings) > before and any(f.level == "error" for f in check.findings[before:]):
            continue
        assert isinstance(name, str) and expect is not None
        cases.append(
            SmokeCase(
                name=name,
                index=i,
                arguments=arguments,
                expect=expect,
                timeout_seconds=float(timeout) if timeout is not None else None,
                environments=environments,
            )
        )
    return cases, check.findings


def _expect(check: _Check, raw: Any, path: Path) -> SmokeExpect | None:
    if raw is None:
        return SmokeExpect()
    if not isinstance(raw, dict):
        check.add(path, "E-SMOKE-TYPE", "expect must be a map", "e.g. expect: {status: 200, regex: shipped}")
        return None
    check.unknown(raw, EXPECT_KEYS, path, "expect")
    ok = True
    status = raw.get("status", 200)
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        check.add((*path, "status"), "E-SMOKE-VALUE", "expect.status must be an HTTP status (100-599)", "e.g. 200")
        ok = False
    schema = raw.get("json")
    if schema is not None:
        problem = _schema_problem(schema)
        if problem:
            check.add(
                (*path, "json"),
                "E-SMOKE-JSON",
                f"expect.json is not a valid JSON Schema: {problem}",
                "write a JSON Schema, e.g. {type: object, required: [status]}",
            )
            ok = False
    regex = raw.get("regex")
    if regex is not None:
        try:
            if not isinstance(regex, str):
                raise re.error("not a string")
            re.compile(regex)
        except re.error as exc:
            check.add(
                (*path, "regex"),
                "E-SMOKE-REGEX",
                f"expect.regex is not a regular expression ({exc})",
                "Python syntax; quote it in YAML",
            )
            ok = False
    error = raw.get("error", False)
    if not isinstance(error, bool):
        check.add((*path, "error"), "E-SMOKE-VALUE", "expect.error must be true or false", "write error: true")
        ok = False
    latency = raw.get("maxLatencyMs")
    if latency is not None and (isinstance(latency, bool) or not isinstance(latency, (int, float)) or latency <= 0):
        check.add((*path, "maxLatencyMs"), "E-SMOKE-VALUE", "expect.maxLatencyMs must be a number above 0", "e.g. 2000")
        ok = False
    if not ok:
        return None
    return SmokeExpect(
        status=status,
        json_schema=schema,
        regex=regex,
        error=error,
        max_latency_ms=float(latency) if latency is not None else None,
    )


def _schema_problem(schema: Any) -> str | None:
    if not isinstance(schema, dict):
        return "it must be a map"
    from jsonschema import exceptions, validators

    try:
        validators.validator_for(schema).check_schema(schema)
    except exceptions.SchemaError as exc:
        return exc.message
    return None


def eval_test(doc: Document) -> EvalTest | None:
    """The ``test:`` block of an Eval document (None when absent, or when validation reports it broken)."""
    if doc.kind != EVAL or doc.test is None:
        return None
    return _eval_test(doc, None)[0]


def smoke_cases(doc: Document) -> list[SmokeCase]:
    """The well-formed ``smoke:`` cases of a Tool document."""
    if doc.kind != TOOL or doc.smoke is None:
        return []
    return _smoke_cases(doc, None)[0]


# -- selection ----------------------------------------------------------------------------------------


def evals_for(repo: ConfigRepo, env: str, *, canary: bool = False) -> list[tuple[Document, EvalTest]]:
    """The Eval documents to run in ``env``: those whose test block runs there, or (``canary``) those
    marked ``canary: true`` — the evals run right after an apply to a protected environment."""
    environment = repo.environments[env]
    out = []
    for doc in repo.documents_of(EVAL):
        test = eval_test(doc)
        if test is None:
            continue
        if test.canary if canary else runs_in(test.environments, environment):
            out.append((doc, test))
    return out


def smoke_for(repo: ConfigRepo, env: str) -> list[tuple[Document, list[SmokeCase]]]:
    """The Tool documents of ``env`` and their smoke cases that run there."""
    environment = repo.environments[env]
    out = []
    for doc in repo.documents_of(TOOL):
        if not doc.applies_to(env):
            continue
        cases = [c for c in smoke_cases(doc) if runs_in(c.environments, environment)]
        if cases:
            out.append((doc, cases))
    return out


def tests_defined(repo: ConfigRepo, env: str) -> bool:
    """Whether any eval or smoke case runs in ``env`` (the promotion gate's "no tests defined")."""
    return env in repo.environments and bool(evals_for(repo, env) or smoke_for(repo, env))


def render_document(repo: ConfigRepo, env: str, doc: Document) -> RenderedResource | None:
    """``doc`` rendered for ``env`` even where its ``metadata.environments`` leaves it out: a canary
    eval runs inline in a protected env it is not deployed to."""
    from ci_deployer.config.render import render_env

    alone = replace(doc, metadata=replace(doc.metadata, environments=None))
    trimmed = ConfigRepo(
        root=repo.root,
        environments=repo.environments,
        documents=[*repo.documents_of(POLICY), alone],
        defaults=repo.defaults,
    )
    resources, _ = render_env(trimmed, env)
    return resources[0] if resources else None


# -- validation ---------------------------------------------------------------------------------------


def tool_url(spec: Mapping[str, Any]) -> str | None:
    """Where a smoke call goes: ``url`` of an apiRequest tool, else ``server.url`` (the tool-calls webhook)."""
    if spec.get("type") == "apiRequest":
        url = spec.get("url")
    else:
        server = spec.get("server")
        url = server.get("url") if isinstance(server, dict) else None
    return url if isinstance(url, str) and url.strip() else None


def argument_problem(spec: Mapping[str, Any], arguments: Mapping[str, Any]) -> str | None:
    """Why ``arguments`` do not fit the tool's parameters (function tools) or body (apiRequest), if they don't."""
    from jsonschema import exceptions, validators

    function = spec.get("function")
    schema = (
        spec.get("body")
        if spec.get("type") == "apiRequest"
        else (function.get("parameters") if isinstance(function, dict) else None)
    )
    if not isinstance(schema, dict):
        return None
    try:
        cls = validators.validator_for(schema)
        cls.check_schema(schema)
    except exceptions.SchemaError:
        return None  # the tool's own schema is reported by the schema checks
    error = exceptions.best_match(cls(schema).iter_errors(dict(arguments)))
    if error is None:
        return None
    where = "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
    return f"{where + ': ' if where else ''}{error.message}"


def check_repo(
    repo: ConfigRepo,
    rendered: Mapping[str, Sequence[RenderedResource]],
    broken_files: frozenset[str] = frozenset(),
) -> list[Finding]:
    """Every problem of the test and smoke blocks: shapes, targets (kind and slug, and present in each
    environment the test runs in), environments, smoke URLs and arguments.  ``rendered`` holds the
    rendered resources of the environments being validated; ``broken_files`` the files that failed
    to load (a target named like one of them is not reported missing: that file's finding says why)."""
    findings: list[Finding] = []
    for doc in repo.documents:
        if doc.test is not None and doc.kind != EVAL:
            check = _Check(doc)
            check.add(
                ("test",),
                "E-TEST-KIND",
                f"{doc.kind} documents cannot carry a test block",
                "test: belongs on Eval documents (targets name the assistants or squads to run it against)",
            )
            findings += check.findings
        if doc.smoke is not None and doc.kind != TOOL:
            check = _Check(doc)
            check.add(
                ("smoke",),
                "E-SMOKE-KIND",
                f"{doc.kind} documents cannot carry smoke cases",
                "smoke: belongs on Tool documents",
            )
            findings += check.findings
        if doc.kind == EVAL and doc.test is not None:
            test, problems = _eval_test(doc, repo, broken_files)
            findings += problems
            if test is not None:
                findings += _target_envs(repo, doc, test, rendered)
        if doc.kind == TOOL and doc.smoke is not None:
            cases, problems = _smoke_cases(doc, repo)
            findings += problems
            findings += _smoke_envs(repo, doc, cases, rendered)
    return findings


def _target_envs(
    repo: ConfigRepo, doc: Document, test: EvalTest, rendered: Mapping[str, Sequence[RenderedResource]]
) -> list[Finding]:
    check = _Check(doc)
    raw_targets = doc.test.get("targets") if isinstance(doc.test, dict) else []
    for env in rendered:
        environment = repo.environments[env]
        if not (runs_in(test.environments, environment) or (test.canary and environment.protection is not None)):
            continue
        for target in test.targets:
            target_doc = next((d for d in repo.documents_of(target.kind) if d.slug == target.slug), None)
            if target_doc is None or target_doc.applies_to(env):
                continue
            index = next((i for i, t in enumerate(raw_targets or []) if parse_target(t) == target), 0)
            check.add(
                ("test", "targets", index),
                "E-TEST-TARGET-ENV",
                f"{target.label} does not exist in {env} (its metadata.environments), but this test runs there",
                f"add {env} to the target's metadata.environments, or set test.environments to where it exists",
            )
    return check.findings


def _smoke_envs(
    repo: ConfigRepo, doc: Document, cases: list[SmokeCase], rendered: Mapping[str, Sequence[RenderedResource]]
) -> list[Finding]:
    check = _Check(doc)
    for env, resources in rendered.items():
        # by file, not slug: a duplicate slug is reported once, not as the other document's smoke problems
        res = next((r for r in resources if r.kind == TOOL and r.document.file == doc.file), None)
        if res is None:
            continue  # not in this env, or broken (reported by render)
        environment = repo.environments[env]
        for case in cases:
            if not runs_in(case.environments, environment):
                continue
            path: Path = ("smoke", case.index)
            if res.spec.get("type") in NO_SERVER_TYPES or tool_url(res.spec) is None:
                check.add(
                    path,
                    "E-SMOKE-NO-URL",
                    f"this {res.spec.get('type') or 'tool'} tool has no server URL in {env} to smoke-test",
                    "smoke cases call server.url (function tools) or url (apiRequest tools); remove the case",
                )
                continue
            problem = argument_problem(res.spec, case.arguments)
            if problem:
                check.add(
                    (*path, "arguments"),
                    "E-SMOKE-ARGUMENTS",
                    f"smoke case {case.name!r}: the arguments do not fit the tool's parameters ({problem})",
                    "call the tool as the model would: with arguments its parameters schema accepts",
                )
    return check.findings
