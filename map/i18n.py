"""Translation catalogues: one JSON file per language in ``static/i18n/`` (``en.json`` leads).

Adding a language is adding a file named for its language tag (``es.json``, ``pt-BR.json``);
its ``language.name`` is what the language menu shows. A key missing from a catalogue falls
back to English, so a partial translation still gives a complete page.

An entry is a string with ``{placeholders}`` or, for text that depends on a number, an object
of CLDR plural forms (``{"one": "{n} site", "other": "{n} sites"}``) that the page's script
chooses from with ``Intl.PluralRules``.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

CATALOGUE_DIR: Path = Path(__file__).resolve().parent / "static" / "i18n"
DEFAULT = "en"
Strings = dict[str, str | dict[str, str]]


@cache
def catalogues(directory: Path = CATALOGUE_DIR) -> dict[str, Strings]:
    """Every language tag found in `directory` -> its strings merged over English."""
    found = {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(directory.glob("*.json"))
    }
    english = found[DEFAULT]
    return {tag: {**english, **strings} for tag, strings in found.items()}


def languages(directory: Path = CATALOGUE_DIR) -> dict[str, str]:
    """Language tag -> the language's own name, for the language menu."""
    return {tag: str(s["language.name"]) for tag, s in catalogues(directory).items()}


def choose(
    asked: str | None,
    remembered: str | None,
    accept_language: str | None,
    directory: Path = CATALOGUE_DIR,
) -> str:
    """The language to serve: the one asked for in the URL, else the one chosen before (cookie),
    else the browser's best match, else English. Unknown tags are passed over, not errors: a
    stale link with ``?lang=xx`` still opens a readable page."""
    available = {tag.lower(): tag for tag in catalogues(directory)}
    for tag in (asked, remembered):
        if tag and tag.lower() in available:
            return available[tag.lower()]
    for tag in _preferred(accept_language or ""):
        primary = tag.split("-")[0]
        if tag in available:
            return available[tag]
        if primary in available:
            return available[primary]
    return DEFAULT


def _preferred(header: str) -> list[str]:
    """Language tags of an Accept-Language header, most wanted first (RFC 9110 section 12.5.4)."""
    ranked = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue  # a malformed weight: ignore that entry, keep the rest
        if tag and tag != "*" and quality > 0:
            ranked.append((-quality, position, tag.lower()))
    return [tag for *_, tag in sorted(ranked)]
