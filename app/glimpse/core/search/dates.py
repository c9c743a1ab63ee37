"""Date words in a query ("beach last summer", "receipt june 2021") become a date range.

People remember *when* as often as *what*; CLIP cannot read a date off a
photo, but the catalog knows when each one was taken. This module finds one
date phrase in the query, removes it, and returns the range it stands for, so
the search filters by date and ranks by the rest of the words.

Rules, chosen to avoid false positives (a query is short; a wrong filter hides
the photo the user wants):
- A year is a standalone four-digit number from 1900 to 2100 ("2019"); "2",
  "100", "10000", "2019-06" or "1920px" are not years.
- Full month names stand alone ("june" = the most recent June that has begun,
  this one included). "may" and "march" are also ordinary words, and
  abbreviations ("jun", "sept") are too short to trust, so those count as
  months only with a year ("may 2021") or after "in" ("in may").
- Seasons are meteorological and for the northern hemisphere: spring =
  March-May, summer = June-August, autumn/fall = September-November, winter =
  December to February (winter 2020 = December 2020 to February 2021).
  "summer" alone or "this summer" = the most recent summer that has begun;
  "last summer" = the most recent one that has ended.
- Relative: today, yesterday, this/last week (weeks start on Monday),
  this/last month, this/last year.
- Holidays: christmas (24-26 December), christmas eve, new year (31 December
  to 1 January), new year's eve, halloween, valentine's day; with a year or
  alone (= the most recent one).
- Only the first date phrase counts; the rest of the query is left as typed.
Only unquoted queries are read for dates: quotes mean "these exact words".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

MONTHS = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
}
_ABBREVIATIONS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8,
    "sep": 9, "sept": 9, "oct": 10, "nov": 11, "dec": 12,
}
# Month words that are also everyday words (or too short): need a year or "in".
_WEAK_MONTHS = {"may", "march", *_ABBREVIATIONS}
_MONTH_WORDS = {**MONTHS, **_ABBREVIATIONS}

# Season -> first month; each lasts three months.
SEASONS = {"spring": 3, "summer": 6, "autumn": 9, "fall": 9, "winter": 12}

_YEAR = r"(?<![\w.:/#-])(19\d\d|20\d\d|2100)(?![\w.:/%-])"
_MONTH_ALT = "|".join(sorted(_MONTH_WORDS, key=len, reverse=True))
_SEASON_ALT = "|".join(SEASONS)
_HOLIDAY_PATTERNS: list[tuple[str, str]] = [
    ("christmas eve", r"christmas\s+eve|xmas\s+eve"),
    ("new year's eve", r"new\s+year'?s\s+eve|nye"),
    ("christmas", r"christmas|xmas"),
    ("new year", r"new\s+years?(?:'s)?(?:\s+day)?"),
    ("halloween", r"halloween"),
    ("valentine's day", r"valentine'?s(?:\s+day)?"),
]


@dataclass(frozen=True)
class DateRange:
    """Photos taken on or after `start` and before `end` (exclusive)."""

    start: date
    end: date
    label: str

    @property
    def after(self) -> str:
        return self.start.isoformat()

    @property
    def before(self) -> str:
        return self.end.isoformat()


@dataclass(frozen=True)
class DateQuery:
    text: str  # the query without its date phrase
    range: DateRange | None
    phrase: str = ""  # the words that were read as a date, as typed


def _month_start(year: int, month: int) -> date:
    while month > 12:
        year, month = year + 1, month - 12
    while month < 1:
        year, month = year - 1, month + 12
    return date(year, month, 1)


def _month_range(year: int, month: int) -> tuple[date, date]:
    return _month_start(year, month), _month_start(year, month + 1)


def _fmt_day(d: date) -> str:
    return f"{d.day} {d.strftime('%b')} {d.year}"


def _season(name: str, year: int) -> DateRange:
    first = SEASONS[name]
    start = date(year, first, 1)
    label_name = "Autumn" if name == "fall" else name.capitalize()
    label = f"Winter {year}/{str(year + 1)[2:]}" if name == "winter" else f"{label_name} {year}"
    return DateRange(start, _month_start(year, first + 3), label)


def _holiday(name: str, year: int) -> DateRange:
    spans = {
        "christmas": ((12, 24), (12, 27)),
        "christmas eve": ((12, 24), (12, 25)),
        "new year's eve": ((12, 31), None),
        "halloween": ((10, 31), (11, 1)),
        "valentine's day": ((2, 14), (2, 15)),
    }
    if name == "new year":  # the night it turns: 31 Dec of the year before to 1 Jan
        return DateRange(date(year - 1, 12, 31), date(year, 1, 2), f"New Year {year}")
    (m1, d1), end = spans[name]
    start = date(year, m1, d1)
    stop = date(year, end[0], end[1]) if end else date(year + 1, 1, 1)
    title = name[0].upper() + name[1:]
    return DateRange(start, stop, f"{title} {year}")


def _most_recent(make, today: date, started: bool = True) -> DateRange:  # type: ignore[no-untyped-def]
    """The latest of make(year) that has begun (started=True) or ended by today."""
    for year in (today.year + 1, today.year, today.year - 1, today.year - 2):
        r = make(year)
        if (r.start <= today) if started else (r.end <= today):
            return r
    return make(today.year - 1)


def _relative(word: str, today: date) -> DateRange:
    if word == "today":
        return DateRange(today, today + timedelta(days=1), f"Today ({_fmt_day(today)})")
    if word == "yesterday":
        d = today - timedelta(days=1)
        return DateRange(d, today, f"Yesterday ({_fmt_day(d)})")
    if word in ("this week", "last week"):
        monday = today - timedelta(days=today.weekday())
        if word == "this week":
            return DateRange(monday, today + timedelta(days=1), "This week")
        start = monday - timedelta(days=7)
        end_day = monday - timedelta(days=1)
        return DateRange(start, monday, f"Last week ({_fmt_day(start)} to {_fmt_day(end_day)})")
    if word in ("this month", "last month"):
        offset = 0 if word == "this month" else -1
        start, end = _month_range(today.year, today.month + offset)
        return DateRange(start, end, start.strftime("%B %Y"))
    if word in ("this year", "last year"):
        year = today.year if word == "this year" else today.year - 1
        return DateRange(date(year, 1, 1), date(year + 1, 1, 1), str(year))
    raise ValueError(word)


_RELATIVE = r"today|yesterday|(?:this|last|past)\s+(?:week|month|year)"

# Order matters: the longest, most specific phrases first.
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("holiday", re.compile(
        r"\b(?P<prefix>last\s+|this\s+)?(?P<name>"
        + "|".join(f"(?P<h{i}>{p})" for i, (_, p) in enumerate(_HOLIDAY_PATTERNS))
        + r")(?:\s+(?:of\s+|in\s+)?" + _YEAR + r")?\b", re.I)),
    ("season", re.compile(
        r"\b(?P<prefix>last\s+|this\s+)?(?P<name>" + _SEASON_ALT + r")(?:\s+(?:of\s+|in\s+)?"
        + _YEAR + r")?\b", re.I)),
    ("month", re.compile(
        r"(?P<in>\bin\s+)?\b(?P<prefix>last\s+|this\s+)?(?P<name>" + _MONTH_ALT
        + r")\.?(?:\s+(?:of\s+)?" + _YEAR + r")?\b", re.I)),
    ("relative", re.compile(r"\b(?P<name>" + _RELATIVE + r")\b", re.I)),
    ("year", re.compile(r"(?P<in>\b(?:in|from|during)\s+)?" + _YEAR, re.I)),
]


def _year_of(m: re.Match[str]) -> int | None:
    # the year group is the last unnamed group in every pattern
    groups = [g for g in m.groups() if g is not None and re.fullmatch(r"\d{4}", g)]
    return int(groups[-1]) if groups else None


def _interpret(kind: str, m: re.Match[str], today: date) -> DateRange | None:
    year = _year_of(m)
    prefix = (m.group("prefix") or "").strip().lower() if "prefix" in m.re.groupindex else ""
    if kind == "year":
        assert year is not None
        return DateRange(date(year, 1, 1), date(year + 1, 1, 1), str(year))
    if kind == "relative":
        word = re.sub(r"\s+", " ", m.group("name").lower()).replace("past ", "last ")
        return _relative(word, today)
    name = re.sub(r"\s+", " ", m.group("name").lower().rstrip("."))
    if kind == "holiday":
        holiday = next(
            h for i, (h, _) in enumerate(_HOLIDAY_PATTERNS) if m.group(f"h{i}") is not None
        )
        if year is not None:
            return _holiday(holiday, year)
        return _most_recent(lambda y: _holiday(holiday, y), today, started=prefix != "last")
    if kind == "season":
        if year is not None:
            return _season(name, year)
        if prefix == "this":
            return _season(name, today.year)
        return _most_recent(lambda y: _season(name, y), today, started=prefix != "last")
    if kind == "month":
        if name in _WEAK_MONTHS and year is None and not m.group("in"):
            return None  # "may", "march", "jun" alone are not dates
        month = _MONTH_WORDS[name]

        def make(y: int) -> DateRange:
            start, end = _month_range(y, month)
            return DateRange(start, end, start.strftime("%B %Y"))

        if year is not None:
            return make(year)
        if prefix == "this":
            return make(today.year)
        return _most_recent(make, today, started=prefix != "last")
    return None


def extract(query: str, today: date | None = None) -> DateQuery:
    """Find the first date phrase in an unquoted query; see the module docstring."""
    today = today or date.today()
    if '"' in query:
        return DateQuery(query, None)
    found: list[tuple[int, int, DateRange]] = []
    for kind, pattern in _PATTERNS:
        for m in pattern.finditer(query):
            r = _interpret(kind, m, today)
            if r is not None:
                found.append((m.start(), m.end(), r))
                break
    if not found:
        return DateQuery(query, None)
    # The earliest phrase wins; on a tie, the pattern listed first (more specific).
    start, end, rng = min(found, key=lambda f: f[0])
    phrase = query[start:end].strip()
    rest = query[:start] + " " + query[end:]
    rest = re.sub(r"\b(?:in|from|during|on|of|taken)\s*$", "", rest.strip(), flags=re.I)
    rest = re.sub(r"\s+", " ", rest).strip(" ,")
    return DateQuery(rest, rng, phrase)


def intersect(
    after: str | None, before: str | None, rng: DateRange | None
) -> tuple[str | None, str | None]:
    """Combine explicit --after/--before with a range from the query: both must hold."""
    if rng is None:
        return after, before
    new_after = max(filter(None, [after, rng.after]))
    new_before = min(filter(None, [before, rng.before]))
    return new_after, new_before
