"""Monitoring rules on the desired state, and manual attestations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ci_deployer.gates.monitoring import check_monitoring

RULE = {
    "require": "serverMessages",
    "includes": ["end-of-call-report", "status-update"],
    "kinds": ["Assistant"],
    "serverUrl": True,
}


@dataclass
class Res:
    kind: str
    slug: str
    spec: dict[str, Any] = field(default_factory=dict)


GOOD = {
    "serverMessages": ["end-of-call-report", "status-update", "hang"],
    "server": {"url": "https://hooks.acme.example"},
}


def test_every_assistant_compliant_passes_and_other_kinds_are_ignored() -> None:
    items = check_monitoring([RULE], [Res("Assistant", "a", GOOD), Res("Tool", "jira", {})], set())
    assert [(i.id, i.status, i.evidence) for i in items] == [
        ("monitoring.1", "pass", "1 Assistant checked, all compliant")
    ]
    assert items[0].title == "Every Assistant sends end-of-call-report, status-update to a server URL"


def test_missing_message_or_server_url_fails_naming_the_resources() -> None:
    desired = [
        Res("Assistant", "a", GOOD),
        Res("Assistant", "b", {"serverMessages": ["end-of-call-report"], "server": {"url": "https://x"}}),
        Res("Assistant", "c", {"serverMessages": ["end-of-call-report", "status-update"]}),
        Res("Assistant", "d", {}),
    ]
    (item,) = check_monitoring([RULE], desired, set())
    assert item.status == "fail"
    assert item.evidence == (
        "3 of 4 not compliant: Assistant/b: serverMessages lacks status-update; "
        "Assistant/c: no server URL; Assistant/d: no serverMessages"
    )


def test_legacy_server_url_field_counts() -> None:
    spec = {"serverMessages": ["end-of-call-report", "status-update"], "serverUrl": "https://x"}
    assert check_monitoring([RULE], [Res("Assistant", "a", spec)], set())[0].status == "pass"


def test_attestation_pending_until_given() -> None:
    rules = [{"attest": "Dashboards reviewed"}]
    (pending,) = check_monitoring(rules, [], set())
    assert (pending.status, pending.hint) == ("pending", 'confirm it with --attest "Dashboards reviewed"')
    assert check_monitoring(rules, [], {"Dashboards reviewed"})[0].status == "pass"


def test_no_rules_skip_and_unrendered_desired_is_pending() -> None:
    assert check_monitoring([], None, set())[0].status == "skip"
    assert check_monitoring([RULE], None, set())[0].status == "pending"
    assert check_monitoring([{"oops": 1}], [], set())[0].status == "fail"
