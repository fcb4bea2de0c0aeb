from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from ks1bot.core.settings import SupportHoursSettings
from ks1bot.core.support_hours import SupportHours

BERLIN = ZoneInfo("Europe/Berlin")
UTC = dt.timezone.utc


def at(*args, tz=BERLIN):
    return dt.datetime(*args, tzinfo=tz)


@pytest.fixture
def hours():
    return SupportHours(SupportHoursSettings())


@pytest.mark.parametrize(
    "moment, open_",
    [
        (at(2026, 11, 17, 8, 29, 59), False),
        (at(2026, 11, 17, 8, 30), True),  # 08:30 inclusive
        (at(2026, 11, 17, 16, 29, 59), True),
        (at(2026, 11, 17, 16, 30), False),  # 16:30 exclusive
        (at(2026, 11, 21, 10, 0), False),  # Saturday
        (at(2026, 11, 22, 10, 0), False),  # Sunday
    ],
)
def test_opening_hours_boundaries(hours, moment, open_):
    assert hours.is_open(moment) is open_


def test_utc_input_is_converted_to_berlin_time(hours):
    # 07:30 UTC is 08:30 in Berlin in winter (CET, +01:00) ...
    assert hours.is_open(at(2026, 11, 17, 7, 30, tz=UTC))
    assert not hours.is_open(at(2026, 11, 17, 7, 29, tz=UTC))
    # ... and 15:31 UTC is 16:31, after closing.
    assert not hours.is_open(at(2026, 11, 19, 15, 31, tz=UTC))
    # In summer (CEST, +02:00) 06:30 UTC is already 08:30.
    assert hours.is_open(at(2026, 7, 14, 6, 30, tz=UTC))
    assert not hours.is_open(at(2026, 7, 14, 14, 30, tz=UTC))


def test_other_offsets_are_converted(hours):
    new_york = dt.timezone(dt.timedelta(hours=-5))
    assert hours.is_open(at(2026, 11, 17, 3, 0, tz=new_york))  # 09:00 Berlin


def test_daylight_saving_switch(hours):
    # Sunday 29 March 2026 clocks go forward; Monday 30 March opens at 08:30 CEST = 06:30 UTC.
    assert hours.is_open(at(2026, 3, 30, 6, 30, tz=UTC))
    assert not hours.is_open(at(2026, 3, 30, 6, 29, tz=UTC))
    # Friday 27 March (still CET): 07:30 UTC is 08:30.
    assert hours.is_open(at(2026, 3, 27, 7, 30, tz=UTC))
    # Next opening after Friday evening before the switch is Monday after it, in CEST.
    nxt = hours.next_opening(at(2026, 3, 27, 17, 0))
    assert nxt == at(2026, 3, 30, 8, 30)
    assert nxt.utcoffset() == dt.timedelta(hours=2)
    # End of DST: Sunday 25 October 2026; Monday 26 October opens 08:30 CET = 07:30 UTC.
    assert hours.is_open(at(2026, 10, 26, 7, 30, tz=UTC))
    assert not hours.is_open(at(2026, 10, 26, 6, 30, tz=UTC))


def test_nationwide_holidays_are_closed(hours):
    assert not hours.is_open(at(2027, 1, 1, 10, 0))  # Neujahr, a Friday
    assert not hours.is_open(at(2025, 10, 3, 10, 0))  # Tag der Deutschen Einheit, a Friday
    assert not hours.is_open(at(2026, 4, 3, 10, 0))  # Karfreitag
    assert not hours.is_open(at(2026, 5, 14, 10, 0))  # Christi Himmelfahrt
    assert not hours.is_open(at(2026, 12, 25, 10, 0))


def test_extra_closed_days_default_and_configurable():
    default = SupportHours(SupportHoursSettings())
    assert not default.is_open(at(2026, 12, 24, 10, 0))  # Thursday
    assert not default.is_open(at(2026, 12, 31, 10, 0))
    none = SupportHours(SupportHoursSettings(extra_closed_days=()))
    assert none.is_open(at(2026, 12, 24, 10, 0))
    once = SupportHours(SupportHoursSettings(extra_closed_days=("2026-11-20",)))
    assert not once.is_open(at(2026, 11, 20, 10, 0))
    assert once.is_open(at(2027, 11, 19, 10, 0))


def test_state_holiday_only_when_that_state_is_configured():
    epiphany = at(2027, 1, 6, 10, 0)  # Heilige Drei Könige, Wednesday: BY, BW, ST only
    corpus_christi = at(2026, 6, 4, 10, 0)  # Fronleichnam: e.g. NW, BY; not in HH
    nationwide = SupportHours(SupportHoursSettings())
    bavaria = SupportHours(SupportHoursSettings(federal_state="BY"))
    hamburg = SupportHours(SupportHoursSettings(federal_state="HH"))
    assert nationwide.is_open(epiphany)
    assert not bavaria.is_open(epiphany)
    assert hamburg.is_open(epiphany)
    assert nationwide.is_open(corpus_christi)
    assert not bavaria.is_open(corpus_christi)
    assert hamburg.is_open(corpus_christi)


def test_next_opening(hours):
    # Friday evening → Monday 08:30.
    assert hours.next_opening(at(2026, 12, 4, 17, 0)) == at(2026, 12, 7, 8, 30)
    # Early morning on a working day → the same day.
    assert hours.next_opening(at(2026, 11, 18, 8, 10)) == at(2026, 11, 18, 8, 30)
    # New Year's Day (Friday) → Monday 4 January.
    assert hours.next_opening(at(2027, 1, 1, 10, 0)) == at(2027, 1, 4, 8, 30)
    # 23 December evening → 28 December (24th, 25th, 26th, weekend closed).
    assert hours.next_opening(at(2026, 12, 23, 18, 0)) == at(2026, 12, 28, 8, 30)


def test_naive_datetime_is_refused(hours):
    with pytest.raises(ValueError):
        hours.is_open(dt.datetime(2026, 11, 17, 10, 0))


def test_support_time_arithmetic(hours):
    start = at(2026, 12, 4, 15, 30)  # Friday, one hour before closing
    due = hours.add_support_time(start, dt.timedelta(hours=4))
    assert due == at(2026, 12, 7, 11, 30)  # 1 h Friday + 3 h Monday
    assert hours.support_time_between(start, due) == dt.timedelta(hours=4)
    assert hours.support_time_between(at(2026, 12, 5, 9, 0), at(2026, 12, 6, 18, 0)) == dt.timedelta(0)
