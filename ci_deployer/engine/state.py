"""Where an env's state lives: the latest snapshot and the apply lock.

The HMAC key for secret fingerprints is not state: it is a secret the user provides per env
(``secrets.hmacKey`` in environments.yaml), never stored beside the fingerprints.

:class:`StateBackend` is what the engine needs; :class:`LocalStateBackend` keeps it in
``<config>/.ci-deployer/state/<env>/`` (the default outside Actions).  The GitHub-artifacts backend
(the newest apply's artifact on the default branch) implements the same protocol.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path as FsPath
from typing import Any, Protocol

from ci_deployer.engine import snapshot as snapshots
from ci_deployer.engine.snapshot import Snapshot
from ci_deployer.errors import StateError

# The default state folder, relative to a config root (keep `.ci-deployer/` out of git).
STATE_DIR = (".ci-deployer", "state")
SNAPSHOT_FILE = "snapshot.json"
LOCK_FILE = "apply.lock"
# The env's latest behavioural test results (docs/formats.md "Test results"), written by `test` and
# by the canary after a protected env's apply; the promotion gate reads the promotesFrom env's.
TESTS_FILE = "tests.json"


class StateBackend(Protocol):
    """The env's state as the engine sees it."""

    def latest(self, env: str) -> Snapshot | None:
        """The latest snapshot of ``env`` (partial ones included), or ``None`` when there is none."""
        ...

    def save(self, snapshot: Snapshot, *, text: str | None = None) -> None:
        """Make ``snapshot`` the env's state (``text``: its :func:`~ci_deployer.engine.snapshot.dump`,
        when the caller has it already: a snapshot of 10,000 resources takes ~0.5 s to serialise)."""
        ...

    def lock(self, env: str) -> contextlib.AbstractContextManager[None]:
        """Hold the env's apply lock for the ``with`` block, or raise :class:`StateError`."""
        ...

    def latest_tests(self, env: str) -> dict[str, Any] | None:
        """The env's latest behavioural test results record, or ``None`` when tests never ran."""
        ...

    def save_tests(self, env: str, record: dict[str, Any]) -> None:
        """Make ``record`` the env's latest test results."""
        ...


class LocalStateBackend:
    """State in a local folder: ``<root>/<env>/snapshot.json``, ``hmac.key``, ``apply.lock``."""

    def __init__(self, root: FsPath) -> None:
        self.root = root

    def folder(self, env: str) -> FsPath:
        return self.root / env

    def latest(self, env: str) -> Snapshot | None:
        """The saved snapshot, if any."""
        path = self.folder(env) / SNAPSHOT_FILE
        if not path.exists():
            return None
        return snapshots.load(path)

    def save(self, snapshot: Snapshot, *, text: str | None = None) -> None:
        """Replace the env's snapshot atomically (the key is kept inside it too)."""
        snapshots.write(snapshot, self.folder(snapshot.env) / SNAPSHOT_FILE, text=text)

    def latest_tests(self, env: str) -> dict[str, Any] | None:
        """``<root>/<env>/tests.json`` (None when absent); :class:`StateError` when unreadable."""
        path = self.folder(env) / TESTS_FILE
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise StateError(
                f"cannot read the test results {path}: {exc}", hint="run `ci-deployer test` again"
            ) from None
        if not isinstance(data, dict) or data.get("kind") != "test-results" or data.get("env") != env:
            raise StateError(f"{path} is not a test-results record of {env}", hint="run `ci-deployer test` again")
        return data

    def save_tests(self, env: str, record: dict[str, Any]) -> None:
        """Write ``tests.json`` atomically (a reader never sees half a record)."""
        path = self.folder(env) / TESTS_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{TESTS_FILE}.{os.getpid()}.tmp")
        partial.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        partial.replace(path)

    @contextlib.contextmanager
    def lock(self, env: str) -> Iterator[None]:
        """An exclusive lock file; a lock left by a dead process on this host is taken over."""
        path = self.folder(env) / LOCK_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        info = {"pid": os.getpid(), "host": socket.gethostname(), "since": datetime.now(UTC).isoformat()}
        for _ in range(2):
            try:
                with path.open("x", encoding="utf-8") as handle:
                    json.dump(info, handle)
                break
            except FileExistsError:
                holder = _read_lock(path)
                if holder is not None and _stale(holder):
                    path.unlink(missing_ok=True)
                    continue
                who = f"pid {holder.get('pid')} on {holder.get('host')} since {holder.get('since')}" if holder else "?"
                raise StateError(
                    f"another apply to {env} holds the lock {path} ({who})",
                    hint="wait for it to finish; if no apply is running, delete the lock file",
                ) from None
        try:
            yield
        finally:
            path.unlink(missing_ok=True)


def _read_lock(path: FsPath) -> dict[str, object] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _stale(holder: dict[str, object]) -> bool:
    if holder.get("host") != socket.gethostname():
        return False
    pid = holder.get("pid")
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class SnapshotFileState:
    """Read-only state from one snapshot file (``plan --snapshot FILE``): how a PR plan reads prod's
    last snapshot downloaded from the newest default-branch apply artifact, with no prod key."""

    def __init__(self, path: FsPath, fallback: StateBackend) -> None:
        try:
            self.snapshot = snapshots.load(path)
        except StateError:
            raise
        except (OSError, ValueError) as exc:
            raise StateError(
                f"cannot read the snapshot {path}: {exc}", hint="pass a snapshot-after.json written by apply"
            ) from None
        self.path = path
        self.fallback = fallback

    def latest(self, env: str) -> Snapshot | None:
        if self.snapshot.env != env:
            raise StateError(
                f"{self.path} is a snapshot of {self.snapshot.env}, not {env}",
                hint=f"pass a snapshot recorded for {env}",
            )
        return self.snapshot

    def save(self, snapshot: Snapshot, *, text: str | None = None) -> None:
        raise StateError(f"{self.path} is read-only state", hint="apply without --snapshot")

    def lock(self, env: str) -> contextlib.AbstractContextManager[None]:
        return self.fallback.lock(env)

    def latest_tests(self, env: str) -> dict[str, Any] | None:
        return self.fallback.latest_tests(env)

    def save_tests(self, env: str, record: dict[str, Any]) -> None:
        self.fallback.save_tests(env, record)
