"""The pages' own markup (templates/), rendered in the reader's language."""

from __future__ import annotations

from pathlib import Path

import jinja2

from map.i18n import catalogues, languages

TEMPLATE_DIR: Path = Path(__file__).resolve().parent / "templates"

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
    autoescape=True,  # names and translations can hold <, & or quotes
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,  # a misspelt variable fails loudly, never renders blank
)


def render(template: str, lang: str, **context: object) -> str:
    """Render `template` with ``t(key)`` translating into `lang` (plain strings only: plural
    forms are for the page's script, which knows the number)."""
    strings = catalogues()[lang]
    return _env.get_template(template).render(
        t=lambda key: strings[key], lang=lang, languages=languages(), **context
    )
