"""Shelter Signal live map page (Folium + vendored Leaflet, no third-party CDN).

``STATIC_DIR`` must be served at ``static_base`` (default ``/static``); ``map_html()`` returns
the page to serve at ``/``.
"""

from .page import STATIC_DIR, map_html

__all__ = ["STATIC_DIR", "map_html"]
