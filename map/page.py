"""Build the outreach map page: a Folium map whose markers, list and filters live in our scripts.

Folium renders the skeleton (the Leaflet map and its tile layer); ``templates/map_chrome.html``
adds the header, filters and list in the reader's language; everything dynamic happens in the
scripts under ``static/``, which fetch ``{api_base}/shelters`` and follow ``{api_base}/events``.

Folium's stock page pulls Leaflet, jQuery, Bootstrap, Font Awesome and awesome-markers from
third-party CDNs. We replace that per map instance with our vendored Leaflet plus our own
scripts and stylesheet, so the only external URL left in the page is the tile server.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import NamedTuple

import folium
from branca.element import Element, MacroElement
from folium.template import Template

from map.i18n import DEFAULT, catalogues
from map.render import render
from server.models import Sector

STATIC_DIR: Path = Path(__file__).resolve().parent / "static"

# Our scripts, in load order: each adds its part to window.ShelterSignal and may use the
# ones before it. Plain scripts (no bundler, no modules) so a volunteer can read what runs.
# The first are all the first markers need; the later ones (the list, Find a bed, wishes,
# holds, the offline copy: 11 KB gzipped, 0.2 s on a weak signal) come after those markers
# (live.js loads them), so that they do not share the signal with Leaflet and the markers.
FIRST_SCRIPTS = ("text.js", "sites.js", "apikey.js", "markers.js", "live.js")
LATER_SCRIPTS = ("list.js", "holds.js", "find.js", "offline.js", "notify.js")
SCRIPTS = FIRST_SCRIPTS + LATER_SCRIPTS
# The map's own scripts and styles reach a phone as one file each, joined by the server
# (bundle(), served by server/api/routes/pages.py): on a weak signal (400 ms a request)
# Chrome's 6 connections to a server took three waves of requests for Leaflet and our 13
# files, 1.2 s before the first marker could be drawn (docs/benchmarks.md, section 7).
BUNDLES = {
    "map.js": FIRST_SCRIPTS,
    "later.js": LATER_SCRIPTS,
    "map.css": ("colours.css", "map.css"),
}
BUNDLE_DIR = "bundle"  # under static_base: /static/bundle/map.js
# The page asks for its first markers before its scripts have come (live.js shows them):
# the request then rides in the scripts' wave instead of one of its own after them. Not with
# filters remembered, whose markers only the whole list can draw. The map's box is not laid
# out yet, so its size is guessed from map.css: from 900 px wide, beside the 400 px list and
# under a header of about 56 px; on a phone, under the header and the panel, about 40 % of
# the height (measured: 321 of 844 px). A wrong guess costs one more request (live.js). The
# viewport's <meta> comes later in the page, so the screen's size caps the window's.
_FIRST_MARKERS = """
(function () {
  try {
    var saved = JSON.parse(localStorage.getItem("shelter-signal.map")) || {};
    var sectors = saved.sector || [], needs = saved.eligibility || [];
    if (sectors.length || needs.length || saved.space || saved.accepting) return;
  } catch (e) {
    // storage blocked: nothing is remembered
  }
  var width = Math.min(innerWidth, screen.width), height = Math.min(innerHeight, screen.height);
  var wide = width >= 900;
  var size = wide ? [width - 400, height - 56] : [width, Math.round(height * 0.4)];
  window.ShelterSignalFirst = fetch(GROUPS + "?width=" + size[0] + "&height=" + size[1])
    .then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    });
})();
"""
OTHER_PAGES = ("city.", "device.", "dial.")  # catalogue keys of the city page and web dial


class LiveTiming(NamedTuple):
    """What the page needs to age counts and its own link by itself (server/settings.py):
    counts turn aging, then stale, with time, and a silent event stream means a dead link."""

    fresh_minutes: float = 30
    stale_minutes: float = 180
    keepalive_seconds: float = 15
    timezone: str = "America/Toronto"  # intake hours are the city's wall-clock times


DEFAULT_TIMING = LiveTiming()


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

    def __init__(self, config: dict[str, object]):
        super().__init__()
        self._name = "ShelterSignalLive"
        self.config = config


@cache
def bundle(name: str) -> tuple[bytes, str, float]:
    """The files of ``BUNDLES[name]`` joined in order, each after a comment naming it, an
    ETag for them and the newest part's modification time (they do not change while the
    server runs)."""
    parts = [STATIC_DIR / part for part in BUNDLES[name]]
    body = b"".join(
        f"/* ---- {part.name} ---- */\n".encode() + part.read_bytes() + b"\n" for part in parts
    )
    etag = f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'
    return body, etag, max(part.stat().st_mtime for part in parts)


def _markup(text: str) -> Element:
    """Already-rendered HTML as a Folium element (not re-read as a template)."""
    element = Element("{{ this.markup }}")
    element.markup = text
    return element


def map_html(
    *,
    lang: str = DEFAULT,
    api_base: str = "/api/v1",
    static_base: str = "/static",
    tiles_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
    tiles_attribution: str = "&copy; OpenStreetMap contributors",
    center: Sequence[float] = (43.6532, -79.3832),
    zoom: int = 12,
    timing: LiveTiming = DEFAULT_TIMING,
    texts: bool = False,
) -> str:
    """Return the complete HTML of the live map page in language `lang`.

    ``api_base`` is where the scripts find ``/shelters``, ``/summary`` and ``/events``;
    ``static_base`` is the URL prefix where :data:`STATIC_DIR` is served. An empty
    ``tiles_url`` leaves the background out (markers and list work without it). ``center`` and
    ``zoom`` are only the view before the sites arrive: the first view then fits the sites.
    ``texts``: the server sends SMS (SIGNAL_SMS_WEBHOOK_URL), so a signed-in worker may have
    a wish texted (notify.js).
    """
    static = html.escape(static_base.rstrip("/"), quote=True)
    api = api_base.rstrip("/")
    strings = catalogues()[lang]
    # The city page's and the web dial's words stay out of this page: a phone on a weak
    # signal fetches less.
    page_strings = {k: v for k, v in strings.items() if not k.startswith(OTHER_PAGES)}

    # Leaflet's own zoom buttons are English-only: live.js adds translated ones.
    m = folium.Map(
        location=list(center),
        zoom_start=zoom,
        tiles=None,
        zoom_control=False,
        zoomSnap=0.5,  # half steps: fitting the sites fills the screen better than whole zooms
    )
    # Per-instance override: never mutate folium.Map.default_js/css (module-level lists shared
    # by every map in the process; Map.add_js_link() would mutate them in place).
    m.default_js = [
        ("leaflet", f"{static}/vendor/leaflet/leaflet.js"),
        ("shelter_signal", f"{static}/{BUNDLE_DIR}/map.js"),
    ]
    m.default_css = [
        ("leaflet_css", f"{static}/vendor/leaflet/leaflet.css"),
        ("shelter_signal_css", f"{static}/{BUNDLE_DIR}/map.css"),
    ]
    if tiles_url:
        folium.TileLayer(tiles=tiles_url, attr=tiles_attribution, name="tiles").add_to(m)
    config = {
        "apiBase": api,
        "lang": lang,
        "strings": page_strings,
        "freshMinutes": timing.fresh_minutes,
        "staleMinutes": timing.stale_minutes,
        "keepaliveSeconds": timing.keepalive_seconds,
        "timezone": timing.timezone,
        "texts": texts,
        "serviceWorker": "/sw.js",  # served at the root by server/api/routes/pages.py
        "later": f"{static_base.rstrip('/')}/{BUNDLE_DIR}/later.js",  # LATER_SCRIPTS
    }
    _LiveInit(config).add_to(m)

    figure = m.get_root()
    figure.title = html.escape(str(strings["page.title"]))  # Folium does not escape it
    description = html.escape(str(strings["page.description"]), quote=True)
    figure.header.add_child(_markup(f'<meta name="description" content="{description}">'))
    # No icon: an empty one saves phones the request (and the 404) for /favicon.ico.
    figure.header.add_child(_markup('<link rel="icon" href="data:,">'))
    # Before the stylesheets and scripts, so that it runs at once (a script after a style
    # sheet waits for it); its hash is in the page's CSP (server/api/csp.py).
    groups = json.dumps(f"{api}/shelters/groups")
    first = _FIRST_MARKERS.replace("GROUPS", groups, 1)
    figure.header.add_child(_markup(f"<script>{first}</script>"))
    figure.html.add_child(
        _markup(render("map_chrome.html", lang, api_base=api, sectors=[s.value for s in Sector])),
        name="shelter_signal_chrome",
    )

    page = figure.render()
    # Folium hard-codes <html> without a language and a viewport that forbids pinch-zoom of
    # the page (WCAG 1.4.4); both are fixed up here. Leaflet still handles pinch on the map.
    page = page.replace("<html>", f'<html lang="{html.escape(lang, quote=True)}">', 1)
    page = page.replace(", maximum-scale=1.0, user-scalable=no", "", 1)
    return page
