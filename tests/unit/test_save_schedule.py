"""cluster/save_schedule.py: Redis's save rules and the cron expressions."""

import calendar

import pytest

from cluster.save_schedule import Cron, ScheduleError, parse_save, save_due


def _utc(text):
    return calendar.timegm(__import__("time").strptime(text, "%Y-%m-%d %H:%M"))


def test_save_rules_parse_and_fire_as_redis():
    rules = parse_save("3600 1 300 100 60 10000")
    assert rules == [(3600, 1), (300, 100), (60, 10000)]
    assert parse_save("") == []
    for bad in ("3600", "a 1", "3600 -1"):
        with pytest.raises(ScheduleError):
            parse_save(bad)
    now = 10_000.0
    assert not save_due(rules, now, 0, now - 7200, True, 0)  # nothing changed
    assert save_due(rules, now, 1, now - 3601, True, 0)
    assert not save_due(rules, now, 99, now - 301, True, 0)
    assert save_due(rules, now, 100, now - 301, True, 0)
    # After a failure, the next try waits 5 s.
    assert not save_due(rules, now, 100, now - 301, False, now - 3)
    assert save_due(rules, now, 100, now - 301, False, now - 6)


def test_cron_next_after():
    assert Cron("*/30 * * * *").next_after(_utc("2026-01-01 10:07")) == _utc("2026-01-01 10:30")
    assert Cron("0 3 * * 1").next_after(_utc("2026-01-01 10:07")) == _utc("2026-01-05 03:00")
    assert Cron("15 8 1 * *").next_after(_utc("2026-01-01 08:15")) == _utc("2026-02-01 08:15")
    assert Cron("0 0 * * 7").next_after(_utc("2026-01-01 00:00")) == _utc("2026-01-04 00:00")
    # Both day fields restricted: either matches (1st of the month, or a Monday).
    assert Cron("0 0 1 * 1").next_after(_utc("2026-01-01 00:00")) == _utc("2026-01-05 00:00")
    assert Cron("0-10/5 1,2 * 2 *").next_after(_utc("2026-01-01 00:00")) == _utc("2026-02-01 01:00")
    assert Cron("0 0 29 2 *").next_after(_utc("2026-03-01 00:00")) == _utc("2028-02-29 00:00")


@pytest.mark.parametrize("bad", ["* * * *", "60 * * * *", "* 24 * * *", "*/0 * * * *",
                                 "a * * * *", "5-1 * * * *", "0 0 31 2 *"])
def test_bad_cron_expressions_are_refused(bad):
    with pytest.raises(ScheduleError):
        Cron(bad).next_after(0)
