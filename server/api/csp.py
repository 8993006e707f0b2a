"""Security headers for the pages people open in a browser: /, /city and /dial/*.

The Content-Security-Policy lets a page run only our own files and the inline scripts and
styles it was rendered with, each named by its SHA-256 (Folium writes the map's set-up as
inline <script> and <style> elements; the pages are rendered once per language and cached,
so the hashes are computed once too). An injected script or style element, a style
attribute in markup, or a frame on another site is refused by the browser.
"""

import base64
import hashlib
import re
from urllib.parse import urlsplit

# Inline elements whose text the policy must name: <script> without src, and <style>
_INLINE = re.compile(r"<(script|style)\b(?![^>]*\bsrc=)[^>]*>(.*?)</\1\s*>", re.DOTALL)


def _hash(text: str) -> str:
    digest = hashlib.sha256(text.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def _origin(url: str) -> str | None:
    """Where map tiles come from, as a CSP source: {s} subdomains become a wildcard."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:  # a path on this server, or no tiles
        return None
    return f"{parts.scheme}://{parts.netloc.replace('{s}', '*')}"


def page_headers(html: str, image_url: str = "") -> dict[str, str]:
    """The headers of a page with this markup; `image_url` is another place images come
    from (the map's tile URL template)."""
    inline: dict[str, list[str]] = {"script": [], "style": []}
    for tag, text in _INLINE.findall(html):
        inline[tag].append(_hash(text))
    images = " ".join(filter(None, ["'self'", "data:", _origin(image_url)]))
    policy = [
        "default-src 'none'",
        " ".join(["script-src 'self'", *sorted(set(inline["script"]))]),
        " ".join(["style-src 'self'", *sorted(set(inline["style"]))]),
        f"img-src {images}",
        "connect-src 'self'",  # the API and its event stream
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
    return {
        "Content-Security-Policy": "; ".join(policy),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
    }
