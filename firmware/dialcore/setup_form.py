"""The setup web form: a phone on the dial's setup Wi-Fi types in the settings.

The ESP32 layer (board/setup_ap.py) runs the access point and the socket server; it hands
the bytes of each HTTP request to handle() and sends back what it returns. Everything
else happens here, without hardware, so it runs (and is tested) on CPython and MicroPython:
reading the request, the form, merging it into device_config.json, the checks (devconfig),
the page. Only the settings needed to reach the server are on the form, TLS with the
broker's CA certificate included (pasted as PEM, saved as DER); the file's other settings
(pins, timings) keep their values.
"""

import binascii

from . import devconfig

# The fields, in page order: (config key, label, input type, hint under the field).
FIELDS = (
    ("wifi_ssid", "Wi-Fi network", "text", "The shelter's Wi-Fi as phones show it (2.4 GHz)."),
    ("wifi_password", "Wi-Fi password", "password", "Empty for an open network."),
    ("mqtt_host", "Server", "text", "Host name or IP address of the MQTT broker."),
    ("mqtt_port", "Server port", "number", "Empty: 1883, or 8883 with TLS."),
    ("mqtt_user", "Server user name", "text", "Empty if the broker takes no accounts."),
    ("mqtt_password", "Server password", "password", "The broker account's password."),
    ("device_id", "Device id", "text", "As registered on the server: 3-32 of a-z, 0-9, '-'."),
)
SECRETS = ("wifi_password", "mqtt_password")
TRIMMED = ("mqtt_host", "mqtt_port", "mqtt_user", "device_id")  # phones add trailing spaces
# The TLS part of the form, shown after the server port: a checkbox (a hidden "0" before it,
# so that an unticked box is sent too: a form without the field keeps the file's setting)
# and the broker's CA certificate as PEM text, which the dial saves as DER in CA_FILE.
TLS_FIELD = "mqtt_tls"
CA_FIELD = "mqtt_ca"
CA_FILE = "ca.der"  # next to device_config.json, relative to the flash's root like it
TLS_PORT = 8883  # MQTT over TLS's registered port: what an empty port means with TLS
PEM_BEGIN = "-----BEGIN CERTIFICATE-----"
PEM_END = "-----END CERTIFICATE-----"
BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
ASN1_SEQUENCE = 0x30  # a DER certificate is one ASN.1 SEQUENCE: its first byte
# Request size limits. A browser's request line and headers take well under 1 KB. The 7 text
# fields are at most a few hundred bytes each, 4 KB even when every character is
# percent-encoded. The CA certificate is the big one: an RSA-4096 root (the largest in
# common use) is about 2 KB of PEM, and a browser percent-encodes it up to 3 times over
# ("+", "/", "=" and the line breaks: 3 bytes each). The bound stays: the ESP32 holds the
# body in RAM a few times over while reading it, with a few tens of KB to spare.
MAX_HEAD = 2048
MAX_BODY = 4096 + 3 * 2048
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
    An empty port means the default (TLS_PORT with TLS), an empty user name no account.
    The TLS field, when the form has it, sets mqtt_tls ("1": ticked); without it a pasted
    CA turns TLS on (ca() saves the CA). ValueError naming the key when the port is not a
    number; devconfig.load() checks the rest.
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
    if TLS_FIELD in form:
        new["mqtt_tls"] = form[TLS_FIELD] == "1"
    elif form.get(CA_FIELD, "").strip():  # a CA serves only TLS
        new["mqtt_tls"] = True
    if new.get("mqtt_tls") and "mqtt_port" not in new:
        new["mqtt_port"] = TLS_PORT
    return new


def pem_to_der(text):
    """The DER bytes of one PEM certificate; ValueError naming the CA field if it won't do.

    Plain base64 between the BEGIN and END lines (what openssl x509 -outform der does),
    checked to be a plausible certificate: one whole ASN.1 SEQUENCE, as long as it says.
    """
    if "PRIVATE KEY-----" in text:
        _refuse_ca("this is a private key: never share it; paste the CA's certificate")
    begin = text.find(PEM_BEGIN)
    end = text.find(PEM_END)
    if begin < 0 or end < begin:
        _refuse_ca("not a PEM certificate: paste from " + PEM_BEGIN + " to " + PEM_END)
    if text.find(PEM_BEGIN, begin + 1) >= 0:
        _refuse_ca("holds several certificates: paste only the CA's")
    body = "".join(text[begin + len(PEM_BEGIN) : end].split())
    digits = body.rstrip("=")
    # Checked here, so that no port's a2b_base64 has anything to refuse (they differ in how)
    if not digits or len(body) % 4 or len(body) - len(digits) > 2 or not _base64(digits):
        _refuse_ca("the text between the BEGIN and END lines is not base64: copied whole?")
    der = binascii.a2b_base64(body.encode())  # bytes: some ports take no str
    if _der_length(der) != len(der):
        _refuse_ca("not a whole certificate (a line missing?): paste the file's text again")
    return der


def _base64(text):
    return all(c in BASE64 for c in text)


def _refuse_ca(problem):
    raise ValueError(CA_FIELD + ": " + problem)


def _der_length(der):
    """How long the ASN.1 SEQUENCE at the start of der says it is (header included); -1 if
    der does not start with one."""
    if len(der) < 2 or der[0] != ASN1_SEQUENCE:
        return -1
    size = der[1]
    if size < 0x80:  # short form: the length itself, up to 127
        return 2 + size
    count = size & 0x7F  # long form: the number of length bytes that follow
    if not 1 <= count <= 3 or len(der) < 2 + count:  # 3 bytes: up to 16 MB, beyond any body
        return -1
    size = 0
    for byte in der[2 : 2 + count]:
        size = size << 8 | byte
    return 2 + count + size


def ca(form, new):
    """The CA certificate the form saves (DER bytes), or None to keep the file's.

    new is merge()'s result: a pasted CA goes to CA_FILE and new's mqtt_ca_file points
    there; an empty field keeps the file's CA, as empty passwords are kept. ValueError
    naming the field if the PEM won't do, if TLS is unticked beside it, or if TLS is on
    with no CA at all.
    """
    text = form.get(CA_FIELD, "").strip()
    if not text:
        if new.get("mqtt_tls") and not new.get("mqtt_ca_file"):
            _refuse_ca("TLS needs the broker's CA certificate: paste it")
        return None
    der = pem_to_der(text)
    if not new.get("mqtt_tls"):
        raise ValueError(TLS_FIELD + ": tick TLS to use the CA certificate, or empty that field")
    new["mqtt_ca_file"] = CA_FILE
    return der


# -- pages --------------------------------------------------------------------------------------

STYLE = (
    "body{font-family:sans-serif;max-width:32em;margin:1em auto;padding:0 1em}"
    "label{display:block;margin-top:1em;font-weight:bold}"
    "input,textarea{display:block;width:100%;font-size:1.1em;padding:.3em;"
    "box-sizing:border-box}textarea{font-family:monospace;font-size:.8em}"
    "input[type=checkbox]{display:inline;width:auto;margin-right:.5em}"
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
        if key == "mqtt_port":
            parts += _tls_parts(values, current)
    parts.append("<button>Save and restart the dial</button></form>")
    parts.append(
        "<p><small>Other settings in device_config.json (pins, timings) keep their "
        "values; see firmware/README.md.</small></p>"
    )
    return _page("Shelter Signal dial setup", parts)


def _tls_parts(values, current):
    """The TLS checkbox and the CA certificate's text box (module constants' comment)."""
    ticked = values.get(TLS_FIELD, current.get("mqtt_tls"))
    hint = (
        "Open the broker's CA file (.pem or .crt) as text; paste all of it, "
        "BEGIN and END lines too."
    )
    if current.get("mqtt_ca_file"):
        hint += " Leave empty to keep the one saved on the dial."
    text = values.get(CA_FIELD)
    return [
        '<label><input type="hidden" name="',
        TLS_FIELD,
        '" value="0"><input type="checkbox" name="',
        TLS_FIELD,
        '" value="1"',
        " checked" if ticked in (True, "1") else "",
        ">Encrypt with TLS</label><small>For a TLS broker (port 8883): the dial checks "
        "it against the CA certificate below.</small>",
        '<label>Server CA certificate (PEM)<textarea name="',
        CA_FIELD,
        '" rows="6" autocapitalize="none" autocorrect="off" spellcheck="false" placeholder="',
        PEM_BEGIN,
        '&#10;...">',
        _escape(text or ""),
        "</textarea></label><small>",
        _escape(hint),
        "</small>",
    ]


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
        return "200 OK", form_page(shown, raw, problem), None, None
    if method != "POST":
        raise HttpError("405 Method Not Allowed", "only GET and POST")
    if len(body) != body_length(head):
        raise HttpError("400 Bad Request", "the form is cut short")
    form = parse_form(body)
    try:
        new = merge(raw, form)
        der = ca(form, new)
        devconfig.load(new)
    except ValueError as e:  # the page again, as typed (passwords too: the sender's own)
        page = form_page(form, raw, "Not saved: " + str(e))
        return "422 Unprocessable Content", page, None, None
    return "200 OK", _saved_page(new), new, der


def refuse(error):
    """The response for an HttpError: its status and reason on a small page."""
    return _response(error.status, _page(error.status, ["<p>", _escape(str(error)), "</p>"]))


def handle(request, raw, problem=None):
    """Answer one HTTP request (its bytes): (response bytes, new config or None, CA or None).

    raw is the current device_config.json (None if there is none); problem, if any, is
    shown above the form (why the dial is in setup or safe mode). A saved form returns
    the new file contents, already checked with devconfig.load(), and the CA certificate
    pasted with it (DER bytes, for the new config's mqtt_ca_file; None: keep the file).
    Write the CA first, the config last: a power cut between leaves the old config whole.
    """
    try:
        status, html, new, der = _answer(request, raw, problem)
    except HttpError as e:
        return refuse(e), None, None
    return _response(status, html), new, der
