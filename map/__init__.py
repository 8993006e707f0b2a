"""Shelter Signal's pages: the live outreach map and the city staff page (no third-party CDN).

``STATIC_DIR`` must be served at ``static_base`` (default ``/static``); ``map_html()`` returns
the page to serve at ``/`` and ``city_html()`` the one at ``/city``, each in a language of
``i18n.languages()``.
"""

from . import i18n
from .city import city_html
from .page import STATIC_DIR, map_html

__all__ = ["STATIC_DIR", "city_html", "i18n", "map_html"]
