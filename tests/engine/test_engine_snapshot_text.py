"""Reading a snapshot's text (engine/snapshot.py ``parse``): in the layout ``dump`` writes, each
record's kind, slug and id are read from its first lines and the rest is decoded on first use; any
other JSON text of the same snapshot reads back to the same value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ci_deployer.engine import snapshot as snapshots
from ci_deployer.engine.snapshot import Snapshot, SnapshotRecord
from ci_deployer.errors import StateError


def sample(kind: str = "snapshot") -> Snapshot:
    records = [
        SnapshotRecord(
            "Assistant",
            "order-agent",
            "a-1",
            {"name": "Order Agent", "model": {"toolIds": ["ref:Tool/lookup"]}, "server": {"secret": "~secret~"}},
            {"name": "Order Agent", "server": {"secret": "secrets://ORDERS_TOKEN"}},
            {"server.secret": {"ref": "ORDERS_TOKEN", "refs": ["ORDERS_TOKEN"], "hmac": "ab12"}},
            "sha256:1",
        ),
        SnapshotRecord("Tool", "lookup", 'id "quoted" \\ and ü', {"name": "lookup"}, {"name": "lookup"}),
        SnapshotRecord("Tool", "no-body", "t-2", {}, {}),
        SnapshotRecord("Squad", "support", "s-1", {"members": [{"assistantId": "ref:Assistant/order-agent"}]}, {}),
    ]
    records.sort(key=lambda r: (r.kind, r.slug))  # as dump writes them
    snap = Snapshot("dev", "acme-dev", "org-1", "abc", "run-1", "2026-01-01T00:00:00Z", True, records)
    snap.kind_name = kind
    snap.secret_hmacs = {"ORDERS_TOKEN": "ab12"}
    if kind == "backup":  # its unmanaged list ends like the records' list: the first end is theirs
        snap.unmanaged = [{"kind": "Tool", "id": "u-1", "payload": {"name": "x"}}, {"kind": "Tool", "id": "u-2"}]
    snap.documents = {"files": {"f" * 64: {"id": "file-1", "path": "kb/a.md", "bytes": 3}}}
    return snap


@pytest.mark.parametrize("kind", ["snapshot", "backup"])
def test_a_snapshot_reads_back_the_same_from_any_json_text_of_it(kind: str) -> None:
    snap = sample(kind)
    written = snapshots.dump(snap)
    data = snap.to_dict()
    for text in (
        written,
        json.dumps(data),  # compact
        json.dumps(data, indent=4),
        json.dumps(data, indent=2, sort_keys=True),  # each record's keys in another order
    ):
        read = snapshots.parse(text)
        assert read == snap and read.to_dict() == data
    assert snapshots.dump(snapshots.parse(written)) == written


def test_a_record_is_decoded_on_first_use(tmp_path: Path) -> None:
    path = tmp_path / "snapshot.json"
    path.write_text(snapshots.dump(sample()).replace('"ref:Tool/lookup"', '"ref:Tool/lookup" oops'), encoding="utf-8")
    snap = snapshots.load(path)  # only the broken record's body is broken: found when it is used
    assert snap.ids("Tool") == {"lookup": 'id "quoted" \\ and ü', "no-body": "t-2"}
    assert snap.ids("Assistant") == {"order-agent": "a-1"}
    squad = snap.record("Squad", "support")
    assert squad is not None and squad.payload == {"members": [{"assistantId": "ref:Assistant/order-agent"}]}
    agent = snap.record("Assistant", "order-agent")
    assert agent is not None
    with pytest.raises(StateError) as info:
        _ = agent.payload
    assert str(path) in info.value.message and "Assistant/order-agent" in info.value.message


def test_a_broken_snapshot_outside_the_records_is_refused_when_loaded(tmp_path: Path) -> None:
    path = tmp_path / "snapshot.json"
    path.write_text(snapshots.dump(sample()).replace('"env": "dev"', '"env": dev'), encoding="utf-8")
    with pytest.raises(StateError) as info:
        snapshots.load(path)
    assert f"cannot read snapshot {path}" in info.value.message
