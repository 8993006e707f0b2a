"""Build the outreach map page: a Folium map whose markers are drawn and kept live by live.js.

Folium only renders the skeleton (Leaflet map + tile layer). Everything dynamic happens in
``static/live.js``, which fetches ``{api_base}/shelters`` and follows ``{api_base}/events``.

Folium's stock page pulls Leaflet, jQuery, Bootstrap, Font Awesome and awesome-markers from
third-party CDNs. We replace that per map instance with our vendored Leaflet plus our own
script and stylesheet, so the only external URL left in the page is the tile server.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

import folium
from branca.element import Element, MacroElement
from folium.template import Template

STATIC_DIR: Path = Path(__file__).resolve().parent / "static"

LEAFLET_VERSION = "1.9.4"
PAGE_TITLE = "Shelter Signal: free beds"

# Rendered into the page body before the map div. The ids/classes are the stable selectors
# the end-to-end tests use. The legend's sample icons deliberately do NOT carry `ss-marker`, and
# the legend is aria-hidden: each real marker has an aria-label saying the same in words.
_CHROME_HTML = """
<h1 class="ss-visually-hidden">Shelter Signal: free beds near you</h1>
<div id="ss-connection" class="ss-banner" role="status" aria-live="polite"
     data-state="offline">Connecting…</div>
<div class="ss-legend" aria-hidden="true">
  <span class="ss-icon ss-space"><span class="ss-n">9</span></span> space
  <span class="ss-icon ss-few"><span class="ss-n">2</span></span> few
  <span class="ss-icon ss-full"><span class="ss-n">FULL</span></span> full
  <span class="ss-icon ss-stale"><span class="ss-n">4?</span></span> old data
</div>
"""


class _LiveInit(MacroElement):
    """Calls ``ShelterSignal.start(<leaflet map>, config)`` right after Folium creates the map.

    As a child of the Map, its script is emitted after the map's own ``var map_<hash> = L.map``
    line, so the generated variable name is resolved here instead of being guessed in JS.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            ShelterSignal.start({{ this._parent.get_name() }}, {{ this.config|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, config: dict[str, str]):
        super().__init__()
        self._name = "ShelterSignalLive"
        self.config = config


def map_html(
    *,
    api_base: str = "/api/v1",
    static_base: str = "/static",
    tiles_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
    tiles_attribution: str = "&copy; OpenStreetMap contributors",
    center: Sequence[float] = (43.6532, -79.3832),
    zoom: int = 12,
) -> str:
    """Return the complete HTML of the live map page.

    ``api_base`` is where live.js finds ``/shelters`` and ``/events``; ``static_base`` is the
    URL prefix where :data:`STATIC_DIR` is served. Both may be relative or absolute.
    """
    static = html.escape(static_base.rstrip("/"), quote=True)
    api = api_base.rstrip("/")

    m = folium.Map(location=list(center), zoom_start=zoom, tiles=None)
    # Per-instance override: never mutate folium.Map.default_js/css (module-level lists shared
    # by every map in the process; Map.add_js_link() would mutate them in place).
    m.default_js = [
        ("leaflet", f"{static}/vendor/leaflet/leaflet.js"),
        ("shelter_signal_live", f"{static}/live.js"),
    ]
    m.default_css = [
        ("leaflet_css", f"{static}/vendor/leaflet/leaflet.css"),
        ("shelter_signal_css", f"{static}/map.css"),
    ]
    folium.TileLayer(tiles=tiles_url, attr=tiles_attribution, name="tiles").add_to(m)
    _LiveInit({"apiBase": api}).add_to(m)

    figure = m.get_root()
    figure.title = PAGE_TITLE
    figure.html.add_child(Element(_CHROME_HTML), name="shelter_signal_chrome")

    page = figure.render()
    # Folium hard-codes <html> without a language and a viewport that forbids pinch-zoom of
    # the page (WCAG 1.4.4); both are fixed up here. Leaflet still handles pinch on the map.
    page = page.replace("<html>", '<html lang="en">', 1)
    page = page.replace(", maximum-scale=1.0, user-scalable=no", "", 1)
    return page
