"""``environments.yaml`` → :class:`Environment` objects (DESIGN §2).

``defaults`` holds any environment key; it is deep-merged under every environment (maps merge,
lists and scalars are replaced, the environment wins), so ``params`` = ``defaults.params`` merged
with the environment's own.  Defaults that depend on ``protection`` (DESIGN §2): with it, ``drift:
fail``, ``allowDeletes: false``, ``planAgainst: snapshot``; without it ``warn`` / ``true`` / ``live``;
explicit values win (``planAgainst`` may also be set inside ``protection``).

``api.token`` must be a ``secrets://`` placeholder: a literal token is an error, is registered for
redaction and is never echoed.  ``api.url: embedded`` needs no token.

``secrets:`` (:mod:`ci_deployer.config.secrets_block`) bounds what the env's placeholders may read;
the refs of every env's own credentials (``api.token``, ``secrets.hmacKey``) are collected across all
environments into each env's :attr:`SecretSettings.reserved`, so that no placeholder of any env can
read them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Any, cast

from ci_deployer import redact
from ci_deployer.config._util import deep_merge, did_you_mean, finding
from ci_deployer.config.model import ChangeWindow, Environment, Freeze, PlanAgainst, Position, Protection, TicketRule
from ci_deployer.config.secrets import SECRET_TOKEN
from ci_deployer.config.secrets_block import credential_refs, parse_secrets_block
from ci_deployer.findings import Finding
from ci_deployer.paths import Path

FILE = "environments.yaml"
API_VERSION = "ci-deployer/v1"
ENV_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

TOP_KEYS = ("apiVersion", "defaults", "environments")
ENV_KEYS = (
    "org",
    "orgId",
    "api",
    "params",
    "credentials",
    "promotesFrom",
    "ignore",
    "protection",
    "drift",
    "allowDeletes",
    "planAgainst",
    "secrets",
)
PROTECTION_KEYS = (
    "requiredApprovals",
    "reviewers",
    "changeWindows",
    "freezes",
    "ticket",
    "planAgainst",
    "monitoring",
    "canary",  # behavioural tests: {rollbackOnFailure: bool}
)


class _Reports:
    """The shape checks both checkers share; each says where a finding goes in its ``error``."""

    def error(self, path: Path, code: str, message: str, hint: str) -> None:
        raise NotImplementedError

    def unknown_keys(self, data: dict[str, Any], allowed: tuple[str, ...], path: Path, what: str) -> None:
        for key in data:
            if key not in allowed:
                self.error(
                    (*path, key),
                    "E-ENV-UNKNOWN-KEY",
                    f"unknown key {key!r} in {what}{did_you_mean(str(key), allowed)}",
                    f"allowed keys: {', '.join(allowed)}",
                )

    def map_of(self, value: Any, path: Path, what: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.error(path, "E-ENV-TYPE", f"{what} must be a map", f"write {what} as `key: value` pairs")
            return {}
        return value

    def list_of_str(self, value: Any, path: Path, what: str) -> list[str]:
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.error(path, "E-ENV-TYPE", f"{what} must be a list of strings", f"write {what} as [a, b]")
            return []
        return list(value)


class _Checker(_Reports):
    def __init__(self, positions: dict[Path, tuple[int, int]]) -> None:
        self.positions = positions
        self.findings: list[Finding] = []

    def mark(self, path: Path) -> tuple[int, int]:
        probe = path
        while probe not in self.positions and probe:
            probe = probe[:-1]
        return self.positions.get(probe, (1, 1))

    def error(self, path: Path, code: str, message: str, hint: str) -> None:
        self.findings.append(finding(FILE, self.mark(path), code, message, hint, path=path))


class _MergedChecker(_Reports):
    """Reports a problem of a key merged from ``defaults`` where it is written: on the env's own
    line when the env sets it, else on the ``defaults`` line (every env repeats it; the runner dedupes)."""

    def __init__(self, check: _Checker, env_path: Path, body: dict[str, Any], defaults: dict[str, Any]) -> None:
        self.check = check
        self.env_path = env_path
        self.body = body
        self.defaults = defaults

    def _where(self, path: Path) -> Path:
        rest = path[len(self.env_path) :]
        if _holds(self.body, rest) or not _holds(self.defaults, rest):
            return path
        return ("defaults", *rest)

    def error(self, path: Path, code: str, message: str, hint: str) -> None:
        self.check.error(self._where(path), code, message, hint)


def _holds(data: Any, path: Path) -> bool:
    for step in path:
        if not isinstance(data, dict) or step not in data:
            return False
        data = data[step]
    return True


def parse_environments(
    data: Any, positions: dict[Path, tuple[int, int]]
) -> tuple[dict[str, Environment], dict[str, Any], list[Finding]]:
    """Turn the parsed ``environments.yaml`` into environments, the raw ``defaults`` and findings."""
    check = _Checker(positions)
    if not isinstance(data, dict):
        check.error(
            (),
            "E-ENV-TYPE",
            "environments.yaml must be a map with apiVersion and environments",
            "see the README for an example environments.yaml",
        )
        return {}, {}, check.findings
    api_version = data.get("apiVersion")
    if api_version != API_VERSION:
        got = "missing" if api_version is None else f"{api_version!r}"
        check.error(("apiVersion",), "E-ENV-APIVERSION", f"apiVersion is {got}", f"write `apiVersion: {API_VERSION}`")
    check.unknown_keys(data, TOP_KEYS, (), "environments.yaml")
    defaults = check.map_of(data.get("defaults"), ("defaults",), "defaults")
    if "org" in defaults:
        check.error(("defaults", "org"), "E-ENV-DEFAULTS", "defaults cannot set org", "set org per environment")
    check.unknown_keys(defaults, ENV_KEYS, ("defaults",), "defaults")
    raw_envs = data.get("environments")
    if not isinstance(raw_envs, dict) or not raw_envs:
        check.error(
            ("environments",),
            "E-ENV-NONE",
            "environments.yaml defines no environments",
            "add `environments:` with at least one entry (e.g. dev: {org: acme-dev, api: {url: embedded}})",
        )
        return {}, defaults, check.findings
    envs: dict[str, Environment] = {}
    reserved: set[str] = credential_refs(defaults)
    for name, body in raw_envs.items():
        path: Path = ("environments", name)
        if not isinstance(name, str) or not ENV_NAME.fullmatch(name):  # not `$`: it accepts a final newline
            check.error(
                path,
                "E-ENV-NAME",
                f"environment name {name!r} is invalid",
                "use lowercase letters, digits, '-' and '_' (e.g. dev, uat, prod)",
            )
            continue
        if not isinstance(body, dict):
            check.error(path, "E-ENV-TYPE", f"environment {name!r} must be a map", "give it at least org and api")
            continue
        check.unknown_keys(body, ENV_KEYS, path, f"environment {name!r}")
        merged = deep_merge(defaults, body)
        reserved |= credential_refs(merged)
        env = _environment(check, name, merged, path, _MergedChecker(check, path, body, defaults))
        if env is not None:
            envs[name] = env
    for env in envs.values():
        env.secrets = dataclasses.replace(env.secrets, reserved=frozenset(reserved))
    _check_promotions(check, envs)
    return envs, defaults, check.findings


def _environment(
    check: _Checker, name: str, data: dict[str, Any], path: Path, merged_check: _MergedChecker
) -> Environment | None:
    org = data.get("org")
    if not isinstance(org, str) or not org:
        check.error((*path, "org"), "E-ENV-ORG", f"environment {name!r} has no org", "add `org: <org name>`")
        return None
    api = check.map_of(data.get("api"), (*path, "api"), "api")
    check.unknown_keys(api, ("url", "token", "data"), (*path, "api"), "api")
    url = api.get("url")
    token = api.get("token")
    data_dir = api.get("data")
    if data_dir is not None and (url != "embedded" or not isinstance(data_dir, str) or not data_dir):
        check.error(
            (*path, "api", "data"),
            "E-ENV-API",
            f"environment {name!r}: api.data is the folder of an embedded org (a path), only with url: embedded",
            "remove it, or write `api: {url: embedded, data: ../other/.ci-deployer/emulator}`",
        )
        data_dir = None
    if not isinstance(url, str) or not (url == "embedded" or re.match(r"^https?://[^\s/]+", url)):
        check.error(
            (*path, "api", "url"),
            "E-ENV-API",
            f"environment {name!r}: api.url must be `embedded` or an http(s) URL",
            "write `api: {url: embedded}` or `api: {url: https://api.vapi.ai, token: secrets://VAPI_TOKEN}`",
        )
        return None
    if token is not None:
        if not isinstance(token, str) or SECRET_TOKEN.fullmatch(token) is None:
            if isinstance(token, str):
                redact.register(token)
            check.error(
                (*path, "api", "token"),
                "E-ENV-TOKEN-LITERAL",
                f"environment {name!r}: api.token must be a secrets:// placeholder, not a literal value",
                "revoke the token if it was committed, then write `token: secrets://VAPI_TOKEN` "
                "and provide the variable from your CI secrets",
            )
            return None
    elif url != "embedded":
        check.error(
            (*path, "api"),
            "E-ENV-API",
            f"environment {name!r}: api.token is required for {url}",
            "add `token: secrets://VAPI_TOKEN_<ENV>`",
        )
        return None
    params = check.map_of(data.get("params"), (*path, "params"), "params")
    credentials = check.map_of(data.get("credentials"), (*path, "credentials"), "credentials")
    for slug, value in credentials.items():
        if not isinstance(value, str):
            check.error(
                (*path, "credentials", slug),
                "E-ENV-TYPE",
                f"credential {slug!r} must be a Vapi credential id (a string)",
                "quote the id",
            )
    org_id = data.get("orgId")
    if org_id is not None and not (isinstance(org_id, str) and org_id):
        check.error(
            (*path, "orgId"),
            "E-ENV-TYPE",
            "orgId must be the Vapi org id (a string)",
            "quote the id shown in the Vapi dashboard's organization settings",
        )
        org_id = None
    promotes_from = data.get("promotesFrom")
    if promotes_from is not None and not isinstance(promotes_from, str):
        check.error((*path, "promotesFrom"), "E-ENV-TYPE", "promotesFrom must name an environment", "e.g. uat")
        promotes_from = None
    ignore = check.list_of_str(data.get("ignore"), (*path, "ignore"), "ignore")
    protection = None
    if data.get("protection") is not None:
        protection = _protection(check, data["protection"], (*path, "protection"))
    protected = protection is not None
    drift = data.get("drift", "fail" if protected else "warn")
    if drift not in ("warn", "fail"):
        check.error((*path, "drift"), "E-ENV-VALUE", f"drift must be warn or fail, not {drift!r}", "write warn or fail")
        drift = "fail" if protected else "warn"
    allow_deletes = data.get("allowDeletes", not protected)
    if not isinstance(allow_deletes, bool):
        check.error((*path, "allowDeletes"), "E-ENV-VALUE", "allowDeletes must be true or false", "write true/false")
        allow_deletes = not protected
    plan_against = data.get("planAgainst")
    if plan_against is None:
        plan_against = protection.plan_against if protection is not None else "live"
    if plan_against not in ("live", "snapshot"):
        check.error(
            (*path, "planAgainst"),
            "E-ENV-VALUE",
            f"planAgainst must be live or snapshot, not {plan_against!r}",
            "write live or snapshot",
        )
        plan_against = "snapshot" if protected else "live"
    secrets = parse_secrets_block(merged_check, data.get("secrets"), (*path, "secrets"))
    line, column = check.mark(path)
    return Environment(
        name=name,
        org=org,
        org_id=org_id,
        api_url=url,
        embedded_data=data_dir,
        api_token=token,
        params=params,
        credentials={k: v for k, v in credentials.items() if isinstance(v, str)},
        promotes_from=promotes_from,
        ignore=ignore,
        protection=protection,
        drift=drift,
        allow_deletes=allow_deletes,
        plan_against=cast(PlanAgainst, plan_against),
        position=Position(FILE, line, column),
        secrets=secrets,
    )


def _protection(check: _Checker, value: Any, path: Path) -> Protection | None:
    data = check.map_of(value, path, "protection")
    check.unknown_keys(data, PROTECTION_KEYS, path, "protection")
    approvals = data.get("requiredApprovals", 0)
    if not isinstance(approvals, int) or isinstance(approvals, bool) or approvals < 0:
        check.error((*path, "requiredApprovals"), "E-ENV-VALUE", "requiredApprovals must be a number ≥ 0", "e.g. 2")
        approvals = 0
    reviewers = check.list_of_str(data.get("reviewers"), (*path, "reviewers"), "reviewers")
    windows: list[ChangeWindow] = []
    raw_windows = data.get("changeWindows") or []
    if not isinstance(raw_windows, list):
        check.error((*path, "changeWindows"), "E-ENV-TYPE", "changeWindows must be a list", "see the README")
        raw_windows = []
    for i, raw in enumerate(raw_windows):
        window = _window(check, raw, (*path, "changeWindows", i))
        if window is not None:
            windows.append(window)
    freezes: list[Freeze] = []
    raw_freezes = data.get("freezes") or []
    if not isinstance(raw_freezes, list):
        check.error((*path, "freezes"), "E-ENV-TYPE", "freezes must be a list", "see the README")
        raw_freezes = []
    for i, raw in enumerate(raw_freezes):
        freeze = _freeze(check, raw, (*path, "freezes", i))
        if freeze is not None:
            freezes.append(freeze)
    ticket = None
    if data.get("ticket") is not None:
        raw_ticket = check.map_of(data["ticket"], (*path, "ticket"), "ticket")
        pattern = raw_ticket.get("pattern")
        url = raw_ticket.get("url")
        try:
            if not isinstance(pattern, str):
                raise re.error("missing")
            re.compile(pattern)
        except re.error as exc:
            check.error(
                (*path, "ticket", "pattern"),
                "E-ENV-VALUE",
                f"ticket.pattern must be a regular expression ({exc})",
                'e.g. pattern: "(CHG|INC)-[0-9]+"',
            )
        else:
            ticket = TicketRule(pattern, url if isinstance(url, str) else None)
    plan_against = data.get("planAgainst", "snapshot")
    if plan_against not in ("live", "snapshot"):
        check.error(
            (*path, "planAgainst"), "E-ENV-VALUE", "planAgainst must be live or snapshot", "write live or snapshot"
        )
        plan_against = "snapshot"
    monitoring = data.get("monitoring") or []
    if not isinstance(monitoring, list) or not all(isinstance(m, dict) for m in monitoring):
        check.error((*path, "monitoring"), "E-ENV-TYPE", "monitoring must be a list of maps", "write a list of maps")
        monitoring = []
    # -- behavioural tests (canary after apply) ---------------------------------------------------
    canary = check.map_of(data.get("canary"), (*path, "canary"), "canary")
    check.unknown_keys(canary, ("rollbackOnFailure",), (*path, "canary"), "canary")
    rollback = canary.get("rollbackOnFailure", False)
    if not isinstance(rollback, bool):
        check.error(
            (*path, "canary", "rollbackOnFailure"),
            "E-ENV-VALUE",
            "canary.rollbackOnFailure must be true or false",
            "write rollbackOnFailure: true to restore the before-snapshot when a canary eval fails",
        )
        rollback = False
    # -- end behavioural tests --------------------------------------------------------------------
    return Protection(
        required_approvals=approvals,
        reviewers=reviewers,
        change_windows=windows,
        freezes=freezes,
        ticket=ticket,
        plan_against=cast(PlanAgainst, plan_against),
        monitoring=monitoring,
        canary_rollback=rollback,
        raw=data,
    )


def _window(check: _Checker, raw: Any, path: Path) -> ChangeWindow | None:
    data = check.map_of(raw, path, "a change window")
    check.unknown_keys(data, ("days", "start", "end", "timezone"), path, "a change window")
    days = check.list_of_str(data.get("days"), (*path, "days"), "days")
    bad = [d for d in days if d not in DAYS]
    ok = True
    if not days or bad:
        check.error((*path, "days"), "E-ENV-VALUE", f"days must be among {', '.join(DAYS)}", "e.g. [mon, tue]")
        ok = False
    for key in ("start", "end"):
        value = data.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            # YAML 1.1 reads an unquoted 09:00 as a sexagesimal number (540).
            value = f"{value // 60:02d}:{value % 60:02d}"
            data[key] = value
        if not isinstance(value, str) or not _TIME.fullmatch(value):
            check.error((*path, key), "E-ENV-VALUE", f'{key} must be a time like "09:00"', 'quote it: "09:00"')
            ok = False
    timezone = data.get("timezone")
    if not _valid_timezone(timezone):
        check.error(
            (*path, "timezone"), "E-ENV-VALUE", f"unknown timezone {timezone!r}", "use an IANA name like Europe/Paris"
        )
        ok = False
    if not ok:
        return None
    return ChangeWindow(days=days, start=data["start"], end=data["end"], timezone=str(timezone))


def _valid_timezone(name: Any) -> bool:
    if not isinstance(name, str) or not name:
        return False
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def _freeze(check: _Checker, raw: Any, path: Path) -> Freeze | None:
    data = check.map_of(raw, path, "a freeze")
    check.unknown_keys(data, ("from", "to", "reason"), path, "a freeze")
    dates: list[str] = []
    for key in ("from", "to"):
        value = data.get(key)
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            dates.append(value.isoformat())
            continue
        try:
            if not isinstance(value, str):
                raise ValueError
            dates.append(dt.date.fromisoformat(value).isoformat())
        except ValueError:
            check.error((*path, key), "E-ENV-VALUE", f"freeze {key} must be a date (YYYY-MM-DD)", "e.g. 2026-12-20")
    if len(dates) != 2:
        return None
    if dates[0] > dates[1]:
        check.error(path, "E-ENV-VALUE", "freeze ends before it starts", "swap from and to")
        return None
    reason = data.get("reason", "")
    return Freeze(start=dates[0], end=dates[1], reason=reason if isinstance(reason, str) else str(reason))


def _check_promotions(check: _Checker, envs: dict[str, Environment]) -> None:
    for env in envs.values():
        if env.promotes_from is None:
            continue
        if env.promotes_from not in envs:
            check.error(
                ("environments", env.name, "promotesFrom"),
                "E-ENV-PROMOTES",
                f"promotesFrom names unknown environment {env.promotes_from!r}{did_you_mean(env.promotes_from, envs)}",
                f"known environments: {', '.join(envs)}",
            )
            continue
        seen = {env.name}
        probe: str | None = env.promotes_from
        while probe is not None and probe in envs:
            if probe in seen:
                check.error(
                    ("environments", env.name, "promotesFrom"),
                    "E-ENV-PROMOTES",
                    f"promotesFrom forms a cycle through {env.name!r}",
                    "promotion must run one way (dev → uat → prod)",
                )
                break
            seen.add(probe)
            probe = envs[probe].promotes_from
