"""A few helpers to write SVG by hand: deterministic text, so a test can compare files."""

from xml.sax.saxutils import escape, quoteattr


def _number(value):
    """Short, stable numbers: 12 not 12.0, 3.14 not 3.1400000001."""
    if isinstance(value, float):
        text = f"{value:.2f}".rstrip("0").rstrip(".")
        return "0" if text == "-0" else text
    return str(value)


def tag(name, content=None, **attrs):
    """<name a="1">content</name>; attribute names use _ for - (font_size -> font-size)."""
    parts = [name]
    for key, value in attrs.items():
        if value is not None:
            parts.append(f"{key.rstrip('_').replace('_', '-')}={quoteattr(_number(value))}")
    opening = " ".join(parts)
    if content is None:
        return f"<{opening}/>"
    return f"<{opening}>{content}</{name}>"


def text(x, y, words, **attrs):
    return tag("text", escape(str(words)), x=x, y=y, **attrs)


def text_on_path(path_id, words, **attrs):
    """Text centred along the path with id path_id."""
    inner = tag("textPath", escape(str(words)), href=f"#{path_id}", startOffset="50%")
    return tag("text", inner, text_anchor="middle", **attrs)


def path(points):
    """The d attribute of a polyline through points."""
    head, *rest = points
    return " ".join(
        [f"M{_number(head[0])} {_number(head[1])}"]
        + [f"L{_number(x)} {_number(y)}" for x, y in rest]
    )


SANS = "DejaVu Sans, Helvetica, Arial, sans-serif"


def document(width, height, body, unit="", title=""):
    """A standalone SVG; with unit="mm" it prints at true size. Text is sans-serif."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        + tag(
            "svg",
            "\n" + tag("title", escape(title)) + "\n" + "\n".join(body) + "\n",
            xmlns="http://www.w3.org/2000/svg",
            width=f"{_number(width)}{unit}",
            height=f"{_number(height)}{unit}",
            viewBox=f"0 0 {_number(width)} {_number(height)}",
            font_family=SANS,
        )
        + "\n"
    )
