"""Change windows and freezes: is ``now`` inside an open window, and if not, when does one open?

Rules (pure; ``now`` is an aware datetime passed in, never read here):

- A window has ``days`` (``mon``..``sun``), ``start`` and ``end`` (``"HH:MM"``) and an IANA
  ``timezone``.  ``days`` are the days a window *starts* on.  ``end <= start`` means the window
  crosses midnight: ``fri 22:00–02:00`` includes Saturday 01:00 (``end == start`` is 24 hours).
- Local times are resolved in the window's zone on the day in question, so a 09:00 New York window
  is 14:00Z in winter and 13:00Z in summer.  A local time that occurs twice (DST ends) starts at
  its first occurrence and ends at its second, so a window is never shortened; a local time that
  does not exist (DST starts) is the instant the clock jumps over it.
- A freeze covers its ``from`` and ``to`` dates inclusive, from 00:00 on ``from`` to 24:00 on ``to``
  in UTC, or in the freeze's own ``timezone`` when it has one.  A freeze wins over every window.
- With no windows, every instant outside a freeze is open.
- The next opening is computed exactly from window boundaries, day by day up to
  :data:`HORIZON_DAYS` ahead, skipping freezes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ci_deployer.config.model import ChangeWindow, Freeze

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HORIZON_DAYS = 400


@dataclass(frozen=True)
class WindowResult:
    """Whether the windows are open at ``now``; why; and the next opening when closed."""

    open: bool
    reason: str
    next_open: datetime | None = None  # UTC


@dataclass(frozen=True)
class _Span:
    start: datetime  # UTC
    end: datetime  # UTC, exclusive
    zone: str  # the zone to show times in


def _hhmm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def resolve_local(day: date, at: time, zone: ZoneInfo, *, last: bool = False) -> datetime:
    """The UTC instant when the wall clock in ``zone`` reads ``at`` on ``day``.

    Ambiguous times (DST ends) give the first occurrence, or the second with ``last``; nonexistent
    times (DST starts) give the instant the clock jumps over them.
    """
    naive = datetime.combine(day, at)
    first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if first == second:
        return first
    valid = [c for c in (first, second) if c.astimezone(zone).replace(tzinfo=None) == naive]
    if valid:
        return max(valid) if last else min(valid)
    # In a gap: fold=0 reads the time with the offset before the jump, fold=1 with the one after,
    # so the jump lies between them; find the first second whose wall time is at or past `naive`.
    low, high = min(first, second), max(first, second)
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).replace(tzinfo=None) >= naive:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)


def _window_spans(window: ChangeWindow, first_day: date, last_day: date) -> list[_Span]:
    zone = ZoneInfo(window.timezone)
    start, end = _hhmm(window.start), _hhmm(window.end)
    spans = []
    day = first_day
    while day <= last_day:
        if DAYS[day.weekday()] in window.days:
            end_day = day if end > start else day + timedelta(days=1)
            spans.append(
                _Span(resolve_local(day, start, zone), resolve_local(end_day, end, zone, last=True), window.timezone)
            )
        day += timedelta(days=1)
    return spans


def freeze_span(freeze: Freeze) -> tuple[datetime, datetime]:
    """The UTC interval ``[start, end)`` a freeze covers (its dates are inclusive)."""
    zone = ZoneInfo(freeze.timezone or "UTC")
    start = resolve_local(date.fromisoformat(freeze.start), time(0), zone)
    end = resolve_local(date.fromisoformat(freeze.end) + timedelta(days=1), time(0), zone)
    return start, end


def format_instant(instant: datetime, zone_name: str) -> str:
    """``Mon 2026-11-30 09:00 America/New_York (14:00 UTC)``; the UTC date is shown when it differs."""
    utc = instant.astimezone(UTC)
    if zone_name == "UTC":
        return f"{utc:%a %Y-%m-%d %H:%M} UTC"
    local = instant.astimezone(ZoneInfo(zone_name))
    utc_text = f"{utc:%H:%M}" if utc.date() == local.date() else f"{utc:%Y-%m-%d %H:%M}"
    return f"{local:%a %Y-%m-%d %H:%M} {zone_name} ({utc_text} UTC)"


def _describe_freeze(freeze: Freeze) -> str:
    name = f"'{freeze.reason}'" if freeze.reason else "freeze"
    zone = f" {freeze.timezone}" if freeze.timezone else ""
    return f"in freeze {name} ({freeze.start} → {freeze.end}{zone})"


def _next_open(
    spans: list[_Span], freezes: list[tuple[datetime, datetime]], now: datetime
) -> tuple[datetime, str] | None:
    for span in sorted(spans, key=lambda s: (s.start, s.end)):
        if span.end <= now:
            continue
        candidate = max(span.start, now)
        moved = True
        while moved:  # push past every freeze the candidate falls in (freezes may chain)
            moved = False
            for start, end in freezes:
                if start <= candidate < end:
                    candidate, moved = end, True
        if candidate < span.end:
            return candidate, span.zone
    return None


def check_windows(windows: list[ChangeWindow], freezes: list[Freeze], now: datetime) -> WindowResult:
    """Whether writes are allowed at ``now`` (aware) under ``windows`` and ``freezes``."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(UTC)
    frozen = [(freeze, *freeze_span(freeze)) for freeze in freezes]
    freeze_spans = [(start, end) for _, start, end in frozen]
    active = next((freeze for freeze, start, end in frozen if start <= now < end), None)
    # One day of margin each side: local dates differ from UTC dates by up to ~26 hours.
    first_day = now.date() - timedelta(days=2)
    if windows:
        current = [s for w in windows for s in _window_spans(w, first_day, now.date() + timedelta(days=1))]
        in_window = any(s.start <= now < s.end for s in current)
    else:
        current, in_window = [], True
    if active is None and in_window:
        reason = "inside a change window" if windows else "no change windows configured"
        return WindowResult(True, f"{reason}; no freeze in effect" if freezes else reason)
    if windows:
        spans = [s for w in windows for s in _window_spans(w, first_day, now.date() + timedelta(days=HORIZON_DAYS))]
    else:  # open whenever not frozen: one span covering the horizon
        spans = [_Span(now, now + timedelta(days=HORIZON_DAYS), "UTC")]
    found = _next_open(spans, freeze_spans, now)
    when = (
        f"next window opens {format_instant(*found)}" if found else f"no window opens in the next {HORIZON_DAYS} days"
    )
    lead = _describe_freeze(active) if active is not None else "outside change windows"
    return WindowResult(False, f"{lead}; {when}", found[0] if found else None)
