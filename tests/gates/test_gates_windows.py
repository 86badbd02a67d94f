"""Change windows and freezes at fixed instants: DST switch days, midnight, new year, next opening."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from ci_deployer.config.model import ChangeWindow, Freeze
from ci_deployer.gates.windows import check_windows, freeze_span, resolve_local

NY = "America/New_York"
WEEKDAYS_NY = [ChangeWindow(["mon", "tue", "wed", "thu"], "09:00", "16:00", NY)]
HOLIDAY = Freeze("2026-12-20", "2027-01-04", "holiday freeze")


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def test_winter_window_is_1400_utc() -> None:
    assert check_windows(WEEKDAYS_NY, [], at(2026, 11, 30, 14, 0)).open
    closed = check_windows(WEEKDAYS_NY, [], at(2026, 11, 30, 13, 59))
    assert not closed.open
    assert closed.reason == (
        "outside change windows; next window opens Mon 2026-11-30 09:00 America/New_York (14:00 UTC)"
    )
    assert closed.next_open == at(2026, 11, 30, 14, 0)


def test_summer_window_is_1300_utc() -> None:
    assert check_windows(WEEKDAYS_NY, [], at(2026, 7, 6, 13, 0)).open
    assert not check_windows(WEEKDAYS_NY, [], at(2026, 7, 6, 12, 59)).open
    # 16:00 EDT is 20:00Z: the end is exclusive.
    assert check_windows(WEEKDAYS_NY, [], at(2026, 7, 6, 19, 59)).open
    assert not check_windows(WEEKDAYS_NY, [], at(2026, 7, 6, 20, 0)).open


def test_spring_forward_day_shifts_the_window_by_an_hour() -> None:
    sunday = [ChangeWindow(["sun"], "09:00", "16:00", NY)]
    # 2026-03-08: clocks jump 02:00 EST → 03:00 EDT, so 09:00 is already 13:00Z that day.
    assert check_windows(sunday, [], at(2026, 3, 8, 13, 0)).open
    assert not check_windows(sunday, [], at(2026, 3, 8, 12, 59)).open
    # One week earlier it was still EST: 14:00Z.
    assert not check_windows(sunday, [], at(2026, 3, 1, 13, 30)).open
    assert check_windows(sunday, [], at(2026, 3, 1, 14, 0)).open


def test_nonexistent_local_time_starts_when_the_clock_jumps() -> None:
    assert resolve_local(date(2026, 3, 8), time(2, 30), ZoneInfo(NY)) == at(2026, 3, 8, 7, 0)
    night = [ChangeWindow(["sun"], "02:30", "05:00", NY)]
    assert not check_windows(night, [], at(2026, 3, 8, 6, 59)).open
    assert check_windows(night, [], at(2026, 3, 8, 7, 0)).open


def test_fall_back_ambiguous_end_uses_the_second_occurrence() -> None:
    zone = ZoneInfo(NY)
    assert resolve_local(date(2026, 11, 1), time(1, 30), zone) == at(2026, 11, 1, 5, 30)
    assert resolve_local(date(2026, 11, 1), time(1, 30), zone, last=True) == at(2026, 11, 1, 6, 30)
    late = [ChangeWindow(["sun"], "00:00", "01:30", NY)]
    # 06:15Z is 01:15 EST, the second time the clock reads 01:15 that night: still inside.
    assert check_windows(late, [], at(2026, 11, 1, 6, 15)).open
    assert not check_windows(late, [], at(2026, 11, 1, 6, 30)).open


def test_fall_back_day_nine_oclock_is_1400_utc_again() -> None:
    days = [ChangeWindow(["sat", "sun"], "09:00", "16:00", NY)]
    assert check_windows(days, [], at(2026, 10, 31, 13, 0)).open  # Saturday, EDT
    assert not check_windows(days, [], at(2026, 11, 1, 13, 30)).open  # Sunday, EST
    assert check_windows(days, [], at(2026, 11, 1, 14, 0)).open


def test_window_crossing_midnight_includes_the_next_morning() -> None:
    friday_night = [ChangeWindow(["fri"], "22:00", "02:00", "UTC")]
    assert check_windows(friday_night, [], at(2026, 6, 6, 1, 0)).open  # Saturday 01:00
    assert not check_windows(friday_night, [], at(2026, 6, 6, 2, 0)).open
    assert not check_windows(friday_night, [], at(2026, 6, 4, 23, 0)).open  # Thursday night
    closed = check_windows(friday_night, [], at(2026, 6, 5, 21, 59))
    assert closed.reason == "outside change windows; next window opens Fri 2026-06-05 22:00 UTC"


def test_utc_date_shown_when_it_differs_from_the_local_one() -> None:
    evening = [ChangeWindow(["mon"], "20:00", "23:00", NY)]
    closed = check_windows(evening, [], at(2026, 11, 30, 0, 0))
    assert closed.reason.endswith("next window opens Mon 2026-11-30 20:00 America/New_York (2026-12-01 01:00 UTC)")


def test_freeze_across_new_year_without_windows() -> None:
    new_year = [Freeze("2026-12-31", "2027-01-01", "new year")]
    frozen = check_windows([], new_year, at(2027, 1, 1, 23, 59))
    assert not frozen.open
    assert frozen.reason == (
        "in freeze 'new year' (2026-12-31 → 2027-01-01); next window opens Sat 2027-01-02 00:00 UTC"
    )
    assert check_windows([], new_year, at(2027, 1, 2, 0, 0)).open
    assert not check_windows([], new_year, at(2026, 12, 31, 0, 0)).open
    assert check_windows([], new_year, at(2026, 12, 30, 23, 59)).open


def test_freeze_in_its_own_timezone_crosses_utc_midnight() -> None:
    eve = Freeze("2026-12-24", "2026-12-24", "christmas eve", timezone=NY)
    assert freeze_span(eve) == (at(2026, 12, 24, 5, 0), at(2026, 12, 25, 5, 0))
    assert not check_windows([], [eve], at(2026, 12, 25, 4, 59)).open  # 23:59 on the 24th in New York
    assert check_windows([], [eve], at(2026, 12, 25, 5, 0)).open


def test_next_open_skips_a_freeze_covering_windows() -> None:
    result = check_windows(WEEKDAYS_NY, [HOLIDAY], at(2026, 12, 21, 15, 0))  # a Monday, in window hours
    assert not result.open
    assert result.reason == (
        "in freeze 'holiday freeze' (2026-12-20 → 2027-01-04); "
        "next window opens Tue 2027-01-05 09:00 America/New_York (14:00 UTC)"
    )


def test_next_open_inside_a_window_when_the_freeze_ends_mid_window() -> None:
    nights = [ChangeWindow(["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "20:00", "04:00", "UTC")]
    frozen = check_windows(nights, [Freeze("2026-06-01", "2026-06-01", "release")], at(2026, 6, 1, 21, 0))
    assert not frozen.open
    assert frozen.next_open == at(2026, 6, 2, 0, 0)


def test_chained_freezes_are_all_skipped() -> None:
    freezes = [Freeze("2026-06-01", "2026-06-02", "a"), Freeze("2026-06-03", "2026-06-03", "b")]
    result = check_windows([], freezes, at(2026, 6, 1, 12, 0))
    assert result.next_open == at(2026, 6, 4, 0, 0)


def test_no_windows_no_freezes_is_open() -> None:
    result = check_windows([], [], at(2026, 1, 1, 0, 0))
    assert result.open
    assert result.reason == "no change windows configured"


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        check_windows(WEEKDAYS_NY, [], datetime(2026, 1, 1))
