"""Helpers shared by the platform tests (imported by name: test basenames are unique, no packages)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

TOKEN = "tok-acme-5f0c2b7e9d1a4c3b"


class Sleeps:
    """An injectable ``sleep`` that records the delays instead of waiting (and may run a hook)."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self.hook: Callable[[float], None] | None = None

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        if self.hook is not None:
            self.hook(seconds)


def assistant_body(name: str = "Order Agent", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "firstMessage": "Hi, this is Order Agent.",
        "model": {
            "provider": "openai",
            "model": "gpt-4.1-mini",
            "messages": [{"role": "system", "content": "You help customers with their orders."}],
        },
    }
    body.update(extra)
    return body


def function_tool(name: str = "lookup_order") -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": "Look up an order",
            "parameters": {"type": "object", "properties": {"orderId": {"type": "string"}}},
        },
    }
