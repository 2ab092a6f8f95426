"""When to take a snapshot on its own (sans-IO): Redis's ``save`` rules and
Dragonfly's ``snapshot_cron``.

- ``save "3600 1 300 100 60 10000"``: after 3600 s if at least 1 key
  changed, after 300 s if 100 did, after 60 s if 10000 did (``""``: never).
  As Redis's serverCron: a rule fires when the changes since the last save
  reach its count and its seconds have passed since the last successful
  save; after a failed save, the next try waits :data:`RETRY_DELAY_S`.
- ``snapshot_cron "*/30 * * * *"``: the five crontab fields (minute, hour,
  day of month, month, day of week; ``*``, numbers, ``a-b``, lists, ``/step``;
  day 7 is Sunday as 0), in UTC.  When both day fields are restricted, a day
  matching either fires, as cron does.

The proxy's first worker asks these each second (proxy/snapshots.py).
"""

from __future__ import annotations

import calendar
import time

RETRY_DELAY_S = 5  # Redis's CONFIG_BGSAVE_RETRY_DELAY


class ScheduleError(ValueError):
    """A ``save`` or ``snapshot_cron`` value that does not parse."""


def parse_save(text: str) -> list:
    """``"3600 1 300 100"`` -> [(3600, 1), (300, 100)]."""
    parts = text.split()
    if len(parts) % 2 or not all(p.isdigit() for p in parts):
        raise ScheduleError("Invalid save parameters")
    numbers = [int(p) for p in parts]
    return list(zip(numbers[::2], numbers[1::2]))


def save_due(rules, now: float, changes: int, lastsave: float, last_ok: bool,
             last_try: float) -> bool:
    """Redis's rule check: is a save due now?"""
    if not last_ok and now - last_try <= RETRY_DELAY_S:
        return False
    return any(changes >= count and now - lastsave > seconds for seconds, count in rules)


# -- cron -----------------------------------------------------------------------

_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12),
           ("day of week", 0, 7))


def _parse_field(text: str, name: str, low: int, high: int) -> frozenset:
    values = set()
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ScheduleError("snapshot_cron: bad step %r in the %s field" % (part, name))
            step = int(step_text)
        if body == "*":
            start, end = low, high
        elif "-" in body:
            a, _, b = body.partition("-")
            if not (a.isdigit() and b.isdigit()):
                raise ScheduleError("snapshot_cron: bad range %r in the %s field" % (part, name))
            start, end = int(a), int(b)
        elif body.isdigit():
            start = int(body)
            end = high if step_text else start
        else:
            raise ScheduleError("snapshot_cron: bad value %r in the %s field" % (part, name))
        if not (low <= start <= end <= high):
            raise ScheduleError("snapshot_cron: %r is outside %d-%d in the %s field"
                                % (part, low, high, name))
        values.update(range(start, end + 1, step))
    return frozenset(values)


class Cron:
    """A parsed five-field cron expression; :meth:`next_after` is its use."""

    def __init__(self, expression: str):
        fields = expression.split()
        if len(fields) != 5:
            raise ScheduleError("snapshot_cron: %r needs 5 fields (minute hour day-of-month "
                                "month day-of-week)" % expression)
        parsed = [_parse_field(f, *spec) for f, spec in zip(fields, _FIELDS)]
        self.minutes, self.hours, self.days, self.months, weekdays = parsed
        self.weekdays = frozenset(d % 7 for d in weekdays)  # 7 is Sunday too
        self.any_day = fields[2] == "*"
        self.any_weekday = fields[4] == "*"

    def _day_matches(self, year: int, month: int, day: int) -> bool:
        if month not in self.months:
            return False
        weekday = (calendar.weekday(year, month, day) + 1) % 7  # cron: 0 is Sunday
        in_days, in_weekdays = day in self.days, weekday in self.weekdays
        if self.any_day or self.any_weekday:
            return in_days and in_weekdays
        return in_days or in_weekdays

    def next_after(self, now: float) -> float:
        """The first matching minute strictly after ``now`` (Unix seconds, UTC)."""
        start = (int(now) // 60 + 1) * 60
        day_start = start - start % 86400
        for _ in range(366 * 8):  # leap days and rare weekdays: a few years suffice
            t = time.gmtime(day_start)
            if self._day_matches(t.tm_year, t.tm_mon, t.tm_mday):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        moment = day_start + hour * 3600 + minute * 60
                        if moment >= start:
                            return float(moment)
            day_start += 86400
        raise ScheduleError("snapshot_cron: the expression never matches")
