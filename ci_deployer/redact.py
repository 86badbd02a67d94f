"""Secret redaction shared by every output path (stdout, files, PR comments, crash logs).

Resolved secret values are registered here as soon as they are read; :func:`redact` replaces any
occurrence of them in text.  The registry is per process and starts empty (nothing happens at
import time).  Secret *structure* (secret-ish keys, header values) is redacted by
:func:`ci_deployer.engine.canonical` functions; this is the last line of defence for free text.
"""

from __future__ import annotations

import threading

MASK = "***"
_lock = threading.Lock()
_values: set[str] = set()
_listeners: list[object] = []


def register(value: str) -> None:
    """Remember a secret value so that it is masked wherever it would be printed."""
    if not value or len(value) < 4:  # masking "a" would garble all output; such values are refused upstream
        return
    with _lock:
        _values.add(value)


def registered() -> frozenset[str]:
    with _lock:
        return frozenset(_values)


def redact(text: str) -> str:
    """Replace every registered secret value in ``text`` with ``***`` (longest first)."""
    with _lock:
        values = sorted(_values, key=len, reverse=True)
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    return text


def clear() -> None:
    """Forget all registered values (tests)."""
    with _lock:
        _values.clear()
