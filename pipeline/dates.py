"""Dates as the texts print them, read into ISO 8601: the one module every stage uses.

A printed date is "May 27, 1934", "27 May 1934", "Sept 6, 1936" or "25/4/36"; month
names and their abbreviations are in ``MONTHS``. ``iso_date`` turns a ``DATE`` match into
``YYYY-MM-DD``, or None when the printed date is not a real day or its day-month order
cannot be read ("5/4/36"). ``ISO_DATE`` is the form a date takes in the TOML files and
the tables (``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``).
"""

from __future__ import annotations

import datetime
import re

MONTHS = {name: i for i, names in enumerate(
    [("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",),
     ("june", "jun"), ("july", "jul"), ("august", "aug"), ("september", "sept", "sep"),
     ("october", "oct"), ("november", "nov"), ("december", "dec")], start=1) for name in names}

MONTH = r"[A-Z][a-z]{2,8}\.?"
DATE_PATTERN = (r"(?:(?P<m1>" + MONTH + r")\s+(?P<d1>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<y1>\d{4})"
                r"|(?P<d2>\d{1,2})(?:st|nd|rd|th)?\s+(?P<m2>" + MONTH + r"),?\s+(?P<y2>\d{4})"
                r"|(?P<d3>\d{1,2})/(?P<m3>\d{1,2})/(?P<y3>\d{4}|\d{2}))")
DATE = re.compile(DATE_PATTERN)
ISO_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


def iso_date(match: re.Match[str] | None) -> str | None:
    """ISO 8601 date of a ``DATE`` match, or None if it is not a real date (or no match)."""
    if match is None:
        return None
    g = {k: v for k, v in match.groupdict().items() if v}
    if "d3" in g:
        day, month, year = int(g["d3"]), int(g["m3"]), g["y3"]
        if len(year) == 2:   # a letter of the 1920s-40s dated "25/4/36"
            year = "19" + year
        if day <= 12 and month <= 12 and day != month:
            return None      # 5/4/36: day-month order cannot be read, do not guess
    else:
        day = int(g.get("d1") or g["d2"])
        month = MONTHS.get((g.get("m1") or g["m2"]).rstrip(".").casefold(), 0)
        year = g.get("y1") or g["y2"]
    try:
        return datetime.date(int(year), month, day).isoformat()
    except ValueError:      # "February 30": not a date
        return None


def parse_date(text: str) -> str | None:
    """The ISO date of a text that is exactly one printed date, else None."""
    match = DATE.fullmatch(text.strip())
    return iso_date(match) if match else None
