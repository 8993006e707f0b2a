"""Build the city staff page: charts from the history API, stale sites, the dial fleet.

The page is plain HTML from ``templates/city.html``; ``static/city.js`` fills it from the API
and ``static/charts.js`` draws the charts as inline SVG, so nothing outside our server is
needed to see them.
"""

from __future__ import annotations

from map.i18n import DEFAULT, catalogues
from map.render import render


def city_html(
    *, lang: str = DEFAULT, api_base: str = "/api/v1", static_base: str = "/static"
) -> str:
    """Return the complete HTML of the city staff page in language `lang`."""
    config = {"apiBase": api_base.rstrip("/"), "lang": lang, "strings": catalogues()[lang]}
    return render("city.html", lang, static=static_base.rstrip("/"), config=config)
