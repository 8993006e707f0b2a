"""The pages' own markup (templates/), rendered in the reader's language."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import jinja2

from map.i18n import catalogues, languages

TEMPLATE_DIR: Path = Path(__file__).resolve().parent / "templates"


@cache
def _environment(directory: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory),
        autoescape=True,  # names and translations can hold <, & or quotes
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,  # a misspelt variable fails loudly, never renders blank
    )


def render(template: str, lang: str, directory: Path = TEMPLATE_DIR, **context: object) -> str:
    """Render `template` (from `directory`: the web dial keeps its page beside its own code)
    with ``t(key)`` translating into `lang` (plain strings only: plural forms are for the
    page's script, which knows the number)."""
    strings = catalogues()[lang]
    return (
        _environment(directory)
        .get_template(template)
        .render(t=lambda key: strings[key], lang=lang, languages=languages(), **context)
    )
