"""The setup web form: a phone on the dial's setup Wi-Fi types in the settings.

The ESP32 layer (board/setup_ap.py) runs the access point and the socket server; it hands
the bytes of each HTTP request to handle() and sends back what it returns. Everything
else happens here, without hardware, so it runs (and is tested) on CPython and MicroPython:
reading the request, the form, merging it into device_config.json, the checks (devconfig),
the page. Only the settings needed to reach the server are on the form; the file's other
settings (TLS, pins, timings) keep their values.
"""

import binascii

from . import devconfig

# The fields, in page order: (config key, label, input type, hint under the field).
FIELDS = (
    ("wifi_ssid", "Wi-Fi network", "text", "The shelter's Wi-Fi as phones show it (2.4 GHz)."),
    ("wifi_password", "Wi-Fi password", "password", "Empty for an open network."),
    ("mqtt_host", "Server", "text", "Host name or IP address of the MQTT broker."),
    ("mqtt_port", "Server port", "number", "Empty: 1883 (8883 is usual with TLS)."),
    ("mqtt_user", "Server user name", "text", "Empty if the broker takes no accounts."),
    ("mqtt_password", "Server password", "password", "The broker account's password."),
    ("device_id", "Device id", "text", "As registered on the server: 3-32 of a-z, 0-9, '-'."),
)
SECRETS = ("wifi_password", "mqtt_password")
TRIMMED = ("mqtt_host", "mqtt_port", "mqtt_user", "device_id")  # phones add trailing spaces
# Request size limits. A browser's request line and headers take well under 1 KB; the form
# is 7 fields of at most a few hundred bytes even when every character is percent-encoded.
MAX_HEAD = 2048
MAX_BODY = 4096
# Unambiguous characters for the setup network's password: no 0/o, 1/l. 32 of them, so a
# random byte's low 5 bits pick one without bias.
KEY_ALPHABET = "23456789abcdefghijkmnpqrstuvwxyz"
KEY_LENGTH = 10  # 50 random bits: far beyond guessing while the setup network is up
SSID_PREFIX = "ShelterSignal-"


class HttpError(ValueError):
    """A request the form cannot answer with a page: status line and a short reason."""

    def __init__(self, status, reason):
        super().__init__(reason)
        self.status = status


def ap_ssid(unique_id):
    """The setup network's name: the prefix and the last 3 bytes of the chip's MAC, in hex."""
    return SSID_PREFIX + binascii.hexlify(unique_id[-3:]).decode()


def ap_key(random_bytes):
    """The setup network's WPA2 password, one character per random byte (KEY_LENGTH bytes)."""
    return "".join(KEY_ALPHABET[b & 31] for b in random_bytes[:KEY_LENGTH])


# -- reading a request ---------------------------------------------------------------------


def _head_lines(head):
    try:
        text = head.decode()
    except UnicodeError:
        raise HttpError("400 Bad Request", "request headers are not text") from None
    return text.split("\r\n")


def body_length(head):
    """The Content-Length of a request whose head (request line and headers) is given."""
    if len(head) > MAX_HEAD:
        raise HttpError("431 Request Header Fields Too Large", "request headers too long")
    for line in _head_lines(head)[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            value = value.strip()
            if not value.isdigit():
                raise HttpError("400 Bad Request", "bad Content-Length")
            if int(value) > MAX_BODY:
                raise HttpError("413 Content Too Large", "form too large")
            return int(value)
    return 0


def _unquote(text):
    """Decode one application/x-www-form-urlencoded name or value (ASCII in, text out)."""
    parts = text.replace("+", " ").split("%")
    out = bytearray(parts[0].encode())
    for part in parts[1:]:
        digits = part[:2]
        if len(digits) != 2 or not all(c in "0123456789abcdefABCDEF" for c in digits):
            raise HttpError("400 Bad Request", "bad %-escape in the form")
        out.append(int(digits, 16))
        out.extend(part[2:].encode())
    try:
        return bytes(out).decode()
    except UnicodeError:
        raise HttpError("400 Bad Request", "the form is not UTF-8") from None


def parse_form(body):
    """The fields of a form body (application/x-www-form-urlencoded) as {name: text}."""
    try:
        text = body.decode()
    except UnicodeError:
        raise HttpError("400 Bad Request", "the form is not URL-encoded") from None
    fields = {}
    for pair in text.split("&"):
        if pair:
            name, _, value = pair.partition("=")
            fields[_unquote(name)] = _unquote(value)
    return fields


# -- from the form to device_config.json ------------------------------------------------------


def _known(raw):
    """The keys of the current file that devconfig knows (the others would only be refused)."""
    names = [key for key, _, _, _, _ in devconfig.KEYS] + ["pins"]
    if not isinstance(raw, dict):
        return {}
    return {key: raw[key] for key in raw if key in names}


def merge(raw, form):
    """The new file contents: the current file (raw, None if none) with the form's fields.

    An empty password field keeps the password in the file (the page never shows it); with
    no password in the file it means none: an open Wi-Fi, a broker account without one.
    An empty port means the default, an empty user name no account. ValueError naming the
    key when the port is not a number; devconfig.load() checks the rest.
    """
    new = _known(raw)
    for key, _, _, _ in FIELDS:
        value = form.get(key, "")
        if key in TRIMMED:
            value = value.strip()
        if key in SECRETS:
            if value or not new.get(key):
                new[key] = value
        elif key == "mqtt_port":
            if not value:
                new.pop(key, None)
            elif value.isdigit():
                new[key] = int(value)
            else:
                raise ValueError("mqtt_port: must be a whole number, not " + repr(value))
        else:
            new[key] = value
    if not new["mqtt_user"]:
        new["mqtt_user"] = new["mqtt_password"] = None
    elif not new["mqtt_password"]:
        new["mqtt_password"] = None
    return new


# -- pages --------------------------------------------------------------------------------------

STYLE = (
    "body{font-family:sans-serif;max-width:32em;margin:1em auto;padding:0 1em}"
    "label{display:block;margin-top:1em;font-weight:bold}"
    "input{display:block;width:100%;font-size:1.1em;padding:.3em;box-sizing:border-box}"
    "small{color:#555}.problem{background:#fdd;padding:.6em;border-left:4px solid #c00}"
    "button{margin:1.5em 0;font-size:1.2em;padding:.5em;width:100%}"
)


def _escape(text):
    return (
        str(text)
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#39;")
    )


def _page(title, parts):
    """A whole HTML page: the title as heading, then parts (a list of HTML strings)."""
    head = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1"><title>'
        + _escape(title)
        + "</title><style>"
        + STYLE
        + "</style></head><body><h1>"
        + _escape(title)
        + "</h1>"
    )
    return head + "".join(parts) + "</body></html>"


def form_page(values, raw, problem=None):
    """The form, filled with values ({key: text}), and problem (if any) above it.

    raw is the current file: where it holds a secret, the page says an empty field keeps it.
    """
    current = _known(raw)
    parts = []
    if problem:
        parts.append('<p class="problem">' + _escape(problem) + "</p>")
    parts.append('<form method="post" action="/">')
    for key, label, kind, hint in FIELDS:
        attributes = ' autocapitalize="none" autocorrect="off" spellcheck="false"'
        if key in SECRETS:
            attributes = ""
            if current.get(key):
                hint = "Leave empty to keep the one saved on the dial."
        value = values.get(key)
        parts += [
            "<label>",
            _escape(label),
            '<input name="',
            key,
            '" type="',
            kind,
            '" value="',
            _escape("" if value is None else value),
            '"',
            attributes,
            "></label><small>",
            _escape(hint),
            "</small>",
        ]
    parts.append("<button>Save and restart the dial</button></form>")
    parts.append(
        "<p><small>Other settings in device_config.json (TLS, pins, timings) keep their "
        "values; see firmware/README.md.</small></p>"
    )
    return _page("Shelter Signal dial setup", parts)


def _saved_page(new):
    return _page(
        "Saved",
        [
            "<p>The dial restarts now and joins the Wi-Fi network <b>",
            _escape(new["wifi_ssid"]),
            "</b>. This setup network goes away: connect your phone to its usual network.</p>",
        ],
    )


def _response(status, html):
    body = html.encode()
    head = (
        "HTTP/1.1 "
        + status
        + "\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: "
        + str(len(body))
        + "\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


# -- one request ----------------------------------------------------------------------------------


def _answer(request, raw, problem):
    end = request.find(b"\r\n\r\n")
    if end < 0:
        raise HttpError("400 Bad Request", "incomplete request")
    head, body = request[:end], request[end + 4 :]
    words = _head_lines(head)[0].split(" ")
    if len(words) != 3 or not words[2].startswith("HTTP/"):
        raise HttpError("400 Bad Request", "not an HTTP request")
    method, path = words[0], words[1].split("?")[0]
    if path != "/":
        raise HttpError("404 Not Found", "no such page: the form is at /")
    if method == "GET":  # the file's settings, but never its secrets
        shown = {key: value for key, value in _known(raw).items() if key not in SECRETS}
        return "200 OK", form_page(shown, raw, problem), None
    if method != "POST":
        raise HttpError("405 Method Not Allowed", "only GET and POST")
    if len(body) != body_length(head):
        raise HttpError("400 Bad Request", "the form is cut short")
    form = parse_form(body)
    try:
        new = merge(raw, form)
        devconfig.load(new)
    except ValueError as e:  # the page again, as typed (passwords too: the sender's own)
        return "422 Unprocessable Content", form_page(form, raw, "Not saved: " + str(e)), None
    return "200 OK", _saved_page(new), new


def refuse(error):
    """The response for an HttpError: its status and reason on a small page."""
    return _response(error.status, _page(error.status, ["<p>", _escape(str(error)), "</p>"]))


def handle(request, raw, problem=None):
    """Answer one HTTP request (its bytes): (response bytes, new config to save or None).

    raw is the current device_config.json (None if there is none); problem, if any, is
    shown above the form (why the dial is in setup or safe mode). A saved form returns
    the new file contents, already checked with devconfig.load().
    """
    try:
        status, html, new = _answer(request, raw, problem)
    except HttpError as e:
        return refuse(e), None
    return _response(status, html), new
