"""``run_tests(session, options)``: the behavioural tests of one environment, as one :class:`TestReport`.

Which tests: the evals whose ``test:`` block runs in the env (or, ``canary``, those marked
``canary: true``) against each of their targets, and the smoke cases of the env's tools (not in a
canary run).  ``--only kind/slug`` narrows that: ``eval/SLUG``, ``tool/SLUG``, or an eval target
``assistant/SLUG`` / ``squad/SLUG``.

How an eval runs, per target (the org is listed once, as a plan does, to know what it holds):

- **managed** (the default): the target by its id in the org — it must be applied there; the eval
  by its id when the org holds it as configured, else inline (``eval``: not deployed to this env, or
  changed since the last apply), so a PR can test a new eval before it is deployed;
- **transient** (``--transient``): the targets rendered from *this* config, sent inline
  (``target.assistant`` / ``target.squad``, squad members inline too), with the env's live ids for
  the tools they use (a tool not applied yet is sent inline in ``model.tools``); the eval inline.
  Nothing is written to the org (Vapi records the eval run itself, as it records any chat);
- **canary** (after a protected env's apply): as managed, the evals marked ``canary``.

Eval runs and smoke calls run concurrently, ``concurrency`` at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from ci_deployer import redact
from ci_deployer.behaviour import evals as eval_runs
from ci_deployer.behaviour import smoke as smoke_calls
from ci_deployer.behaviour.evals import EvalJob, Polling
from ci_deployer.behaviour.model import EvalResult, TestReport
from ci_deployer.config import behaviour
from ci_deployer.config.behaviour import EvalTest, Target
from ci_deployer.config.model import Document
from ci_deployer.config.secrets import substitute
from ci_deployer.engine.canonical import parse_ref_token, ref_token
from ci_deployer.engine.model import DesiredResource, from_rendered
from ci_deployer.errors import ConfigError, DeployerError

if TYPE_CHECKING:
    import httpx

    from ci_deployer.engine.plan import PlanContext
    from ci_deployer.engine.session import Session

T = TypeVar("T")
R = TypeVar("R")

ONLY_KINDS = ("eval", "tool", "assistant", "squad")


@dataclass
class TestOptions:
    """What to run and how (the CLI's flags, the action's inputs)."""

    __test__ = False  # not a pytest test class, whatever its name

    only: tuple[str, ...] = ()  # kind/slug filters
    transient: bool = False
    canary: bool = False
    polling: Polling = field(default_factory=Polling)
    concurrency: int = 4
    smoke_transport: httpx.BaseTransport | None = None  # injected in tests; None: the network
    run: str | None = None  # the CI run that produced the record (its id), for the gate's evidence
    run_url: str | None = None

    @property
    def mode(self) -> str:
        return "canary" if self.canary else "transient" if self.transient else "managed"


@dataclass
class _Only:
    evals: set[str] = field(default_factory=set)
    tools: set[str] = field(default_factory=set)
    targets: set[Target] = field(default_factory=set)

    @property
    def empty(self) -> bool:
        return not (self.evals or self.tools or self.targets)


def _parse_only(values: tuple[str, ...], selected_evals: list[tuple[Document, EvalTest]], tools: list[str]) -> _Only:
    only = _Only()
    known_evals = {doc.slug for doc, _ in selected_evals}
    known_targets = {t for _, test in selected_evals for t in test.targets}
    for value in values:
        kind, _, slug = value.partition("/")
        kind = kind.lower()
        if kind == "eval" and slug in known_evals:
            only.evals.add(slug)
        elif kind == "tool" and slug in tools:
            only.tools.add(slug)
        elif kind in behaviour.TARGET_KINDS and Target(behaviour.TARGET_KINDS[kind], slug) in known_targets:
            only.targets.add(Target(behaviour.TARGET_KINDS[kind], slug))
        else:
            offered = sorted(
                [f"eval/{s}" for s in known_evals] + [f"tool/{s}" for s in tools] + [t.label for t in known_targets]
            )
            raise ConfigError(
                f"--only {value}: no test of this environment is {value!r}",
                hint="pass eval/SLUG, tool/SLUG, assistant/SLUG or squad/SLUG"
                + (f"; here: {', '.join(offered)}" if offered else "; no tests run in this environment"),
            )
    return only


def run_tests(session: Session, options: TestOptions) -> TestReport:
    """Run the behavioural tests of the session's env; the report says what passed and what did not.

    Never raises for a failing test (that is a result); raises :class:`DeployerError` when the tests
    cannot be run at all (a bad ``--only``, the org unreachable while listing it)."""
    repo = session.repo
    env = session.env
    selected = behaviour.evals_for(repo, env, canary=options.canary)
    smoke_docs = [] if options.canary else behaviour.smoke_for(repo, env)
    only = _parse_only(options.only, selected, [doc.slug for doc, _ in smoke_docs])
    if not only.empty:
        selected = [(doc, test) for doc, test in selected if doc.slug in only.evals or set(test.targets) & only.targets]
        smoke_docs = [(doc, cases) for doc, cases in smoke_docs if doc.slug in only.tools]
    report = TestReport(
        env=env,
        org=session.environment.org,
        logical_hash=session.logical_hash,
        mode=options.mode,
        sha=session.sha,
        ran_at=datetime.now(UTC).isoformat(timespec="seconds"),
        run=options.run,
        run_url=options.run_url,
    )
    if selected:
        client = session.client()
        ctx = session.plan(client=client)
        report.org_id = ctx.plan.org_id
        jobs = _eval_jobs(session, ctx, selected=selected, only=only, options=options, warnings=report.warnings)
        report.evals = _concurrently(lambda job: eval_runs.run_job(client, job, options.polling), jobs, options)
        _locate_failures(report.evals, {doc.slug: doc for doc, _ in selected})
    if smoke_docs:
        report.smoke = _concurrently(
            lambda job: smoke_calls.run_job(job, options.smoke_transport), _smoke_jobs(session, smoke_docs), options
        )
    return report


def _locate_failures(results: list[EvalResult], docs: dict[str, Document]) -> None:
    """Point a failed eval at the YAML line of its first failing checkpoint (annotations land there)."""
    for result in results:
        failing = result.failing()
        doc = docs.get(result.eval)
        if failing and doc is not None:
            pos = doc.position(("spec", "messages", failing[0].message_index))
            result.file, result.line = pos.file, pos.line


def _concurrently(fn: Callable[[T], R], items: list[T], options: TestOptions) -> list[R]:
    if len(items) <= 1 or options.concurrency <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(len(items), options.concurrency)) as pool:
        return list(pool.map(fn, items))


# -- smoke ------------------------------------------------------------------------------------------


def _smoke_jobs(session: Session, docs: list[tuple[Document, list[behaviour.SmokeCase]]]) -> list[smoke_calls.SmokeJob]:
    desired = {res.key: res for res in session.desired}
    jobs = []
    for doc, cases in docs:
        res = desired.get(doc.key)
        for case in cases:
            pos = doc.position(("smoke", case.index))
            if res is None:
                job = smoke_calls.SmokeJob(tool=doc.slug, case=case, file=pos.file, line=pos.line)
                job.problem = f"{doc.key} is not rendered in {session.env} (see `ci-deployer validate`)"
            else:
                job = smoke_calls.prepare(doc.slug, res.spec, case, session.resolver, file=pos.file, line=pos.line)
            jobs.append(job)
    return jobs


# -- evals ------------------------------------------------------------------------------------------


class _Unresolvable(DeployerError):
    """A reference of an inline payload that has no id in the env and cannot be sent inline."""


def _eval_jobs(
    session: Session,
    ctx: PlanContext,
    *,
    selected: list[tuple[Document, EvalTest]],
    only: _Only,
    options: TestOptions,
    warnings: list[str],
) -> list[EvalJob]:
    actions = {change.key: change.action for change in ctx.plan.changes}
    inline = _Inline(session, ctx)
    jobs = []
    for doc, test in selected:
        targets = [t for t in test.targets if only.empty or doc.slug in only.evals or t in only.targets]
        eval_res = inline.desired.get(doc.key) or _render_alone(session, doc)
        for target in targets:
            pos = doc.position(("test",))
            messages = list(eval_res.spec.get("messages") or []) if eval_res else []
            job = EvalJob(eval=doc.slug, target=target.label, messages=messages, file=pos.file, line=pos.line)
            jobs.append(job)
            if eval_res is None:
                job.problem = f"{doc.key} could not be rendered for {session.env} (see `ci-deployer validate`)"
                continue
            try:
                body: dict[str, Any] = {"type": "eval"}
                eval_id = ctx.ids.get(ref_token("Eval", doc.slug))
                if not options.transient and eval_id is not None and actions.get(doc.key) == "noop":
                    body["evalId"] = eval_id
                else:
                    job.eval_source = "inline"
                    if not options.transient:
                        why = "is not applied" if eval_id is None else "changed since it was applied"
                        job.notes.append(f"eval/{doc.slug} {why} in {session.env}: the config's eval was sent inline")
                    body["eval"] = inline.payload(eval_res)
                body["target"] = _target(session, ctx, inline, target, actions=actions, options=options, job=job)
            except (DeployerError, ConfigError) as error:
                job.problem = redact.redact(error.message)
                continue
            job.body = body
    for note in [n for job in jobs for n in job.notes] + inline.notes:
        if note not in warnings:
            warnings.append(note)
    return jobs


def _render_alone(session: Session, doc: Document) -> DesiredResource | None:
    rendered = behaviour.render_document(session.repo, session.env, doc)
    if rendered is None:
        return None
    return from_rendered([rendered], session.environment)[0]


def _target(
    session: Session,
    ctx: PlanContext,
    inline: _Inline,
    target: Target,
    *,
    actions: dict[str, str],
    options: TestOptions,
    job: EvalJob,
) -> dict[str, Any]:
    kind = target.kind.lower()  # "assistant" | "squad"
    if options.transient:
        job.target_source = "inline"
        payload = inline.assistant(target.slug) if target.kind == "Assistant" else inline.squad(target.slug)
        return {"type": kind, kind: payload}
    target_id = ctx.ids.get(ref_token(target.kind, target.slug))
    if target_id is None:
        raise _Unresolvable(
            f"{target.label} is not applied in {session.env}: apply it first, or test the config as it is "
            "with `ci-deployer test --transient`"
        )
    if actions.get(target.key, "noop") != "noop":
        job.notes.append(f"{target.label} has changes not applied in {session.env}: tested as applied")
    return {"type": kind, f"{kind}Id": target_id}


class _Inline:
    """Transient payloads: the config's resources as create payloads, ids of the env where it has them.

    Where a payload names an assistant the env does not have yet (a handoff destination, a squad
    member's transfer destination), the reference becomes ``assistantName`` — the assistant's rendered
    name, which Vapi also accepts — rather than a nested copy: destinations may point back at the
    assistant under test, and a transient run tests that assistant, not the whole graph."""

    def __init__(self, session: Session, ctx: PlanContext) -> None:
        self.session = session
        self.ids = ctx.ids
        self.desired = {res.key: res for res in session.desired}
        self.notes: list[str] = []

    def _resource(self, kind: str, slug: str) -> DesiredResource:
        res = self.desired.get(f"{kind}/{slug}")
        if res is None:
            raise _Unresolvable(f"{kind.lower()}/{slug} does not exist in {self.session.env}'s config")
        return res

    def _id(self, kind: str, slug: str) -> str:
        found = self.ids.get(ref_token(kind, slug))
        if found is None:
            raise _Unresolvable(
                f"{kind.lower()}/{slug} is not applied in {self.session.env} and cannot be sent inline here"
            )
        return found

    def _resolve(self, data: Any) -> Any:
        if isinstance(data, dict):
            out: dict[str, Any] = {}
            for key, value in data.items():
                parsed = parse_ref_token(value) if key == "assistantId" else None
                if parsed is not None and parsed[0] == "Assistant" and self.ids.get(str(value)) is None:
                    out["assistantName"] = self._name_of(parsed[1])
                else:
                    out[key] = self._resolve(value)
            return out
        if isinstance(data, list):
            return [self._resolve(value) for value in data]
        parsed = parse_ref_token(data)
        return self._id(*parsed) if parsed is not None else data

    def _name_of(self, slug: str) -> str:
        res = self._resource("Assistant", slug)
        note = f"assistant/{slug} is not applied in {self.session.env}: destinations name it (assistantName)"
        if note not in self.notes:
            self.notes.append(note)
        return res.name or slug

    def _secrets(self, payload: Any) -> dict[str, Any]:
        resolved: dict[str, Any] = substitute(payload, self.session.resolver)
        return resolved

    def payload(self, res: DesiredResource) -> dict[str, Any]:
        """``res``'s spec with ids for its references and values for its secrets."""
        return self._secrets(self._resolve(res.spec))

    def assistant(self, slug: str) -> dict[str, Any]:
        """An assistant as a create payload: tools it uses by their live id, or inline in
        ``model.tools`` when this env does not have them yet; structured outputs not applied yet are
        left out (they do not take part in a chat)."""
        res = self._resource("Assistant", slug)
        spec = dict(res.spec)
        model = dict(spec.get("model") or {})
        tool_ids = []
        inline_tools = list(model.get("tools") or [])
        for token in model.get("toolIds") or []:
            parsed = parse_ref_token(token)
            if parsed is None or self.ids.get(str(token)) is not None or parsed[0] != "Tool":
                tool_ids.append(token)
            else:
                inline_tools.append(self._resource("Tool", parsed[1]).spec)
        if "toolIds" in model:
            model["toolIds"] = tool_ids
            if not tool_ids:
                del model["toolIds"]
        if inline_tools:
            model["tools"] = inline_tools
        if model:
            spec["model"] = model
        plan = spec.get("artifactPlan")
        if isinstance(plan, dict) and plan.get("structuredOutputIds"):
            kept = [t for t in plan["structuredOutputIds"] if self.ids.get(str(t)) is not None]
            rest = {k: v for k, v in plan.items() if k != "structuredOutputIds"}
            spec["artifactPlan"] = {**rest, "structuredOutputIds": kept} if kept else rest
        return self._secrets(self._resolve(spec))

    def squad(self, slug: str) -> dict[str, Any]:
        """A squad as a create payload, every member's assistant inline (the config's version)."""
        res = self._resource("Squad", slug)
        spec = dict(res.spec)
        members = []
        for member in spec.get("members") or []:
            parsed = parse_ref_token(member.get("assistantId")) if isinstance(member, dict) else None
            if parsed is not None and parsed[0] == "Assistant":
                inlined = {k: v for k, v in member.items() if k != "assistantId"}
                inlined["assistant"] = self.assistant(parsed[1])
                members.append(inlined)
            else:
                members.append(member)
        spec["members"] = members
        return self._secrets(self._resolve(spec))
