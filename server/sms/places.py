"""Where a text's "postal code or place" is: a point to measure the nearest shelters from.

From what the server knows, in this order: a postal code that located sites have (their mean
point), its postal area (first three characters) in SIGNAL_SMS_AREAS_FILE, the mean of the
located sites in that area; else a place: a city, a shelter's name or part of an address.
Only public sites' own places count: a confidential site's place is never used, which an
answer sorted by distance from it would give away.
"""

import re

from sqlmodel import Session, col, select

from server.models import Site

# A Canadian postal code, whole (M5V 2T6) or its area (M5V), any case, a space or not
POSTAL = re.compile(r"^([A-Z]\d[A-Z])\s*(\d[A-Z]\d)?$", re.IGNORECASE)
MIN_PLACE_CHARS = 3  # "st" or "a" would match half the city's addresses


def locate(
    session: Session, place: str, centres: dict[str, tuple[float, float]]
) -> tuple[float, float] | None:
    """(lat, lon) for `place`, or None when nothing the server knows locates it."""
    located = select(Site.postal_code, Site.city, Site.name, Site.address, Site.lat, Site.lon)
    located = located.where(
        col(Site.confidential).is_(False), col(Site.lat).is_not(None), col(Site.lon).is_not(None)
    )
    rows = session.exec(located).all()
    postal = POSTAL.match(place.strip())
    if postal:
        area, rest = postal[1].upper(), (postal[2] or "").upper()
        codes = [_code(r.postal_code) for r in rows]
        exact = [r for r, code in zip(rows, codes, strict=True) if rest and code == area + rest]
        in_area = [r for r, code in zip(rows, codes, strict=True) if code.startswith(area)]
        if exact:
            return _mean(exact)
        if area in centres:
            return centres[area]
        return _mean(in_area)
    words = place.strip().casefold()
    if len(words) < MIN_PLACE_CHARS:
        return None
    for matches in (
        lambda r: (r.city or "").casefold() == words,
        lambda r: words in r.name.casefold(),
        lambda r: words in (r.address or "").casefold(),
    ):
        found = [r for r in rows if matches(r)]
        if found:
            return _mean(found)
    return None


def _code(postal_code: str | None) -> str:
    return (postal_code or "").replace(" ", "").upper()


def _mean(rows) -> tuple[float, float] | None:
    """The mean point of a few sites in one city (a flat mean is good to metres at that
    scale); None for none."""
    if not rows:
        return None
    return sum(r.lat for r in rows) / len(rows), sum(r.lon for r in rows) / len(rows)
