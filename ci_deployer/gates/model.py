"""The checklist: one :class:`CheckItem` per gate, gathered in a :class:`GateReport`.

``GateReport.to_dict()`` is the stable JSON of ``ci-deployer gate --format json`` (fields are only
ever added)::

    {
      "formatVersion": 1,
      "kind": "gate",
      "env": "prod",
      "allowed": false,                 # no blocking item is "fail" or "pending"
      "breakGlass": null,               # the reason, when break-glass let a closed window through
      "blocking": ["approvals"],        # ids of the items that refuse the operation
      "items": [
        {"id": "approvals", "title": "2 approvals on every merged PR", "status": "fail",
         "evidence": "#12 Add jira tool: 1/2 approvals (alice); not counted: carol (author of the PR)",
         "blocking": true, "hint": "get 1 more approval on #12 from a listed reviewer"}
      ]
    }

``status`` is ``pass`` (✅), ``fail`` (❌), ``pending`` (⏳: the evidence is not available yet) or
``skip`` (➖: the gate does not apply).  ``GateReport.checklist()`` is the plain list the GitHub edge
renders in PR comments and job summaries (``[{id, title, status, evidence}]``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["pass", "fail", "pending", "skip"]
FORMAT_VERSION = 1


@dataclass
class CheckItem:
    """One line of the checklist and the evidence behind its status."""

    id: str
    title: str
    status: Status
    evidence: str
    blocking: bool = True
    hint: str | None = None  # what to do when the item is not passing

    @property
    def refuses(self) -> bool:
        """True when this item keeps the operation from going ahead."""
        return self.blocking and self.status in ("fail", "pending")

    def to_dict(self) -> dict[str, Any]:
        """Stable JSON form of the item (see the module docstring)."""
        return {
            "id": self.id,
            "title": self.title,
            "status": self.status,
            "evidence": self.evidence,
            "blocking": self.blocking,
            "hint": self.hint,
        }


@dataclass
class GateReport:
    """Every gate of one environment, and whether together they allow the operation."""

    env: str
    items: list[CheckItem] = field(default_factory=list)
    allowed: bool = True
    break_glass: str | None = None

    def refusing(self) -> list[CheckItem]:
        """The items that keep the operation from going ahead."""
        return [item for item in self.items if item.refuses]

    def item(self, item_id: str) -> CheckItem | None:
        """The item with ``item_id``, if any."""
        return next((item for item in self.items if item.id == item_id), None)

    def checklist(self) -> list[dict[str, Any]]:
        """The list the GitHub edge renders: ``[{id, title, status, evidence}]``."""
        return [
            {"id": item.id, "title": item.title, "status": item.status, "evidence": item.evidence}
            for item in self.items
        ]

    def to_dict(self) -> dict[str, Any]:
        """Stable JSON form of the report (see the module docstring)."""
        return {
            "formatVersion": FORMAT_VERSION,
            "kind": "gate",
            "env": self.env,
            "allowed": self.allowed,
            "breakGlass": self.break_glass,
            "blocking": [item.id for item in self.refusing()],
            "items": [item.to_dict() for item in self.items],
        }
