"""The setup web form (dialcore/setup_form.py): real HTTP requests in, responses and config out.

The requests are the bytes a phone's browser sends to the dial's setup network. The same
requests also go through the module on the real MicroPython interpreter, which must give
byte-for-byte the same responses and the same new config.
"""

import base64
import datetime
import json
import pathlib
import re
from functools import cache
from urllib.parse import urlencode

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding

from firmware.dialcore import devconfig, setup_form
from tests.support.micropython import run_micropython

FIRMWARE = pathlib.Path(__file__).resolve().parents[2] / "firmware"
EXAMPLE = json.loads((FIRMWARE / "device_config.example.json").read_text())

# What Chrome on Android sends when the form is saved (headers as captured, the body
# percent-encoded as browsers do: spaces as "+", UTF-8 bytes as %XX).
BROWSER_POST = (
    b"POST / HTTP/1.1\r\n"
    b"Host: 192.168.4.1\r\n"
    b"Connection: keep-alive\r\n"
    b"Content-Length: 165\r\n"
    b"Cache-Control: max-age=0\r\n"
    b"Origin: http://192.168.4.1\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\n"
    b"User-Agent: Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) "
    b"Chrome/126.0.0.0 Mobile Safari/537.36\r\n"
    b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    b"Referer: http://192.168.4.1/\r\n"
    b"Accept-Encoding: gzip, deflate\r\n"
    b"Accept-Language: en-CA,en;q=0.9\r\n"
    b"\r\n"
    b"wifi_ssid=Caf%C3%A9+Staff&wifi_password=s3cret+pass%21&mqtt_host=signal.example.org+"
    b"&mqtt_port=8883&mqtt_user=desk&mqtt_password=p%26ss%3Dw0rd&device_id=front-desk-2"
)


def get(path="/"):
    return b"GET " + path.encode() + b" HTTP/1.1\r\nHost: 192.168.4.1\r\nAccept: text/html\r\n\r\n"


def post(fields, method="POST"):
    body = urlencode(fields).encode()
    head = f"{method} / HTTP/1.1\r\nHost: 192.168.4.1\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"Content-Type: application/x-www-form-urlencoded\r\n\r\n" + body


FORM = {
    "wifi_ssid": "ShelterStaff",
    "wifi_password": "",
    "mqtt_host": "signal.example.org",
    "mqtt_port": "",
    "mqtt_user": "",
    "mqtt_password": "",
    "device_id": "front-desk-1",
}


def form(**changes):
    return {**FORM, **changes}


def split(response):
    head, _, body = response.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    assert int(headers["Content-Length"]) == len(body)
    return lines[0], headers, body.decode()


def values(html):
    """{field name: value} of the page's inputs."""
    return dict(re.findall(r'<input name="(\w+)" type="\w+" value="([^"]*)"', html))


def handle(request, raw=None, problem=None):
    response, new, der = setup_form.handle(request, raw, problem)
    assert der is None or new is not None, "a CA is only saved with its config"
    status, headers, html = split(response)
    return status, headers, html, new


# -- first start: no config file -------------------------------------------------------------


def test_the_form_asks_for_every_field_and_no_more():
    status, headers, html, new = handle(get())
    assert status == "HTTP/1.1 200 OK"
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Cache-Control"] == "no-store"
    assert new is None
    assert values(html) == {key: "" for key in FORM}
    assert list(values(html)) == [key for key, *_ in setup_form.FIELDS]
    assert 'type="password"' in html and '<form method="post" action="/">' in html


def test_a_browser_post_is_saved_as_a_valid_config():
    status, _, html, new = handle(BROWSER_POST)
    assert status == "HTTP/1.1 200 OK"
    assert "Caf\u00e9 Staff" in html and "restarts" in html
    assert new == {
        "wifi_ssid": "Caf\u00e9 Staff",
        "wifi_password": "s3cret pass!",
        "mqtt_host": "signal.example.org",  # the phone's trailing space trimmed
        "mqtt_port": 8883,
        "mqtt_user": "desk",
        "mqtt_password": "p&ss=w0rd",
        "device_id": "front-desk-2",
    }
    assert devconfig.load(new)["settle_ms"] == 2000  # the rest takes the defaults


def test_empty_fields_mean_defaults_an_open_network_and_no_account():
    _, _, _, new = handle(post(FORM))
    assert new is not None
    assert new["wifi_password"] == ""
    assert "mqtt_port" not in new  # the default, 1883
    assert new["mqtt_user"] is None and new["mqtt_password"] is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"device_id": "Front Desk"}, "device_id: 'Front Desk' is not 3-32 of a-z"),
        ({"wifi_ssid": ""}, "wifi_ssid: must be 1-32 characters"),
        ({"wifi_password": "short"}, "wifi_password: must be 8-63 characters"),
        ({"mqtt_port": "18a3"}, "mqtt_port: must be a whole number, not '18a3'"),
        ({"mqtt_port": "70000"}, "mqtt_port: must be 1-65535, not 70000"),
        ({"mqtt_host": "my broker"}, "mqtt_host: must be a host name or IP address"),
    ],
)
def test_a_mistake_is_named_and_nothing_is_saved(changes, message):
    status, _, html, new = handle(post(form(**changes)))
    assert status == "HTTP/1.1 422 Unprocessable Content"
    assert new is None
    assert '<p class="problem">Not saved: ' + message.replace("'", "&#39;") in html
    shown = values(html)
    assert shown["mqtt_host"] == form(**changes)["mqtt_host"], "what was typed stays"


# -- changing an existing config (safe mode, config error) -------------------------------------


def test_the_form_shows_the_saved_settings_but_never_the_passwords():
    status, _, html, _ = handle(get(), EXAMPLE, "SAFE MODE: 3 crashes in a row")
    assert status == "HTTP/1.1 200 OK"
    assert '<p class="problem">SAFE MODE: 3 crashes in a row</p>' in html
    assert values(html) == {
        "wifi_ssid": "ShelterStaff",
        "wifi_password": "",
        "mqtt_host": "signal.example.org",
        "mqtt_port": "1883",
        "mqtt_user": "front-desk-1",
        "mqtt_password": "",
        "device_id": "front-desk-1",
    }
    for secret in (EXAMPLE["wifi_password"], EXAMPLE["mqtt_password"]):
        assert secret not in html
    assert html.count("Leave empty to keep the one saved on the dial.") == 2


def test_empty_passwords_keep_the_saved_ones_and_other_settings_stay():
    raw = {**EXAMPLE, "mqtt_tls": True, "mqtt_ca_file": "/ca.der", "pins": {"led": 26}}
    raw["wifi_pasword"] = "a typo the dial refuses"
    typed = form(wifi_ssid="NewStaff", mqtt_user="front-desk-1", mqtt_port="8883")
    _, _, _, new = handle(post(typed), raw)
    assert new is not None
    assert new["wifi_ssid"] == "NewStaff"
    assert new["wifi_password"] == EXAMPLE["wifi_password"]
    assert new["mqtt_password"] == EXAMPLE["mqtt_password"]
    assert (new["mqtt_tls"], new["mqtt_ca_file"], new["pins"]) == (True, "/ca.der", {"led": 26})
    assert "wifi_pasword" not in new, "keys the dial does not know are dropped"
    assert devconfig.load(new)["mqtt_port"] == 8883


def test_no_user_name_drops_the_saved_broker_password():
    _, _, _, new = handle(post(form(mqtt_user="")), EXAMPLE)
    assert new is not None
    assert new["mqtt_user"] is None and new["mqtt_password"] is None


def test_typed_text_cannot_break_out_of_the_page():
    status, _, html, new = handle(
        post(form(device_id='"><script>alert(1)</script>')), None, "<b>problem</b>"
    )
    assert new is None and status.endswith("422 Unprocessable Content")
    assert "<script>" not in html and "<b>problem" not in html
    assert values(html)["device_id"] == "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"


# -- requests the form does not answer with a page ---------------------------------------------

BAD_REQUESTS = [
    (get("/favicon.ico"), "404 Not Found"),
    (get("/generate_204"), "404 Not Found"),
    (post(FORM, method="PUT"), "405 Method Not Allowed"),
    (b"hello\r\n\r\n", "400 Bad Request"),
    (b"GET / HTTP/1.1\r\nHost: 192.168.4.1", "400 Bad Request"),  # no end of headers
    (post(FORM)[:-5], "400 Bad Request"),  # body cut short
    (post(FORM).replace(b"front-desk-1", b"front%2"), "400 Bad Request"),  # bad %-escape
    (post(FORM).replace(b"Content-Length: ", b"Content-Length: x"), "400 Bad Request"),
]


@pytest.mark.parametrize(("request_bytes", "status"), BAD_REQUESTS)
def test_bad_requests_get_a_status_and_save_nothing(request_bytes, status):
    got, _, html, new = handle(request_bytes, EXAMPLE)
    assert got == "HTTP/1.1 " + status
    assert new is None
    assert EXAMPLE["wifi_ssid"] not in html


def test_a_form_that_is_not_utf8_is_refused():
    # MicroPython's decode() does not check UTF-8 (the ESP32's str does): CPython only.
    status, _, _, new = handle(post(form()).replace(b"ShelterStaff", b"Shelter%FFStaff"))
    assert (status, new) == ("HTTP/1.1 400 Bad Request", None)


def test_body_length_reads_the_header_and_refuses_too_much():
    head = b"POST / HTTP/1.1\r\nHost: x\r\ncontent-length:  42 "
    assert setup_form.body_length(head) == 42
    assert setup_form.body_length(b"GET / HTTP/1.1\r\nHost: x") == 0
    with pytest.raises(setup_form.HttpError) as large:
        setup_form.body_length(b"POST / HTTP/1.1\r\nContent-Length: %d" % (setup_form.MAX_BODY + 1))
    assert large.value.status == "413 Content Too Large"
    with pytest.raises(setup_form.HttpError) as long_head:
        setup_form.body_length(b"GET / HTTP/1.1\r\nCookie: " + b"x" * setup_form.MAX_HEAD)
    assert long_head.value.status == "431 Request Header Fields Too Large"
    status, _, _ = split(setup_form.refuse(large.value))
    assert status == "HTTP/1.1 413 Content Too Large"


# -- TLS: the checkbox and the broker's CA certificate ------------------------------------------

CA = trustme.CA()
CA_PEM = CA.cert_pem.bytes().decode().replace("\n", "\r\n")  # a browser sends CRLF lines
CA_DER = x509.load_pem_x509_certificate(CA.cert_pem.bytes()).public_bytes(Encoding.DER)
TLS_RAW = {**EXAMPLE, "mqtt_tls": True, "mqtt_ca_file": "ca.der", "mqtt_port": 8883}


@cache
def big_ca_pem() -> str:
    """A self-signed RSA-4096 root with a long name: 2 KB of PEM, the largest kind in common
    use (ISRG Root X1, Let's Encrypt's, is 1.9 KB)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=4096)
    oid = x509.oid.NameOID
    name = x509.Name(
        [
            x509.NameAttribute(oid.COUNTRY_NAME, "CA"),
            x509.NameAttribute(oid.STATE_OR_PROVINCE_NAME, "Ontario"),
            x509.NameAttribute(oid.LOCALITY_NAME, "Toronto"),
            x509.NameAttribute(oid.ORGANIZATION_NAME, "Shelter Signal Volunteer Network"),
            x509.NameAttribute(oid.ORGANIZATIONAL_UNIT_NAME, "Broker Certificate Authority"),
            x509.NameAttribute(oid.COMMON_NAME, "Shelter Signal Root CA 2025"),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(Encoding.PEM).decode()


def tls_controls(html):
    """(whether the TLS box is ticked, the CA text box's text) of a page."""
    box = re.search(r'<input type="checkbox" name="mqtt_tls" value="1"( checked)?>', html)
    text = re.search(r'<textarea name="mqtt_ca"[^>]*>([^<]*)</textarea>', html)
    assert box and text, "the page has the TLS box and the CA text box"
    return bool(box.group(1)), text.group(1)


def save(fields, raw=None):
    """Post fields as a browser does (the hidden "0" then the ticked box's "1"):
    (status, page, new config, CA bytes)."""
    pairs = list(fields.items())
    if fields.get("mqtt_tls") == "1":
        pairs.insert(list(fields).index("mqtt_tls"), ("mqtt_tls", "0"))
    body = urlencode(pairs).encode()
    head = f"POST / HTTP/1.1\r\nHost: 192.168.4.1\r\nContent-Length: {len(body)}\r\n\r\n"
    response, new, der = setup_form.handle(head.encode() + body, raw)
    status, _, html = split(response)
    return status, html, new, der


def tls_form(**changes):
    return {**FORM, "mqtt_user": "front-desk-1", "mqtt_tls": "1", "mqtt_ca": CA_PEM, **changes}


def test_the_form_offers_tls_with_a_ca_text_box_and_says_what_to_paste():
    _, _, html, _ = handle(get())
    assert tls_controls(html) == (False, "")
    assert "Open the broker&#39;s CA file (.pem or .crt) as text" in html
    _, _, html, _ = handle(get(), TLS_RAW)
    assert tls_controls(html) == (True, ""), "ticked as saved; the CA is not shown again"
    assert "Leave empty to keep the one saved on the dial." in html.split("mqtt_ca")[1]
    assert values(html)["mqtt_port"] == "8883"


def test_a_pasted_ca_is_saved_as_der_with_tls_on_and_the_tls_port():
    status, html, new, der = save(tls_form())
    assert status == "HTTP/1.1 200 OK", html
    assert der == CA_DER
    assert new is not None
    assert (new["mqtt_tls"], new["mqtt_ca_file"], new["mqtt_port"]) == (True, "ca.der", 8883)
    assert devconfig.load(new)["mqtt_ca_file"] == setup_form.CA_FILE


def test_a_typed_port_stays_and_a_pasted_ca_replaces_the_saved_one():
    _, _, new, der = save(tls_form(mqtt_port="18883"), {**TLS_RAW, "mqtt_ca_file": "/old.der"})
    assert der == CA_DER and new is not None
    assert (new["mqtt_port"], new["mqtt_ca_file"]) == (18883, "ca.der")


def test_an_empty_ca_keeps_the_saved_one_and_unticking_turns_tls_off():
    raw = {**TLS_RAW, "mqtt_ca_file": "/ca.der"}
    _, _, new, der = save(tls_form(mqtt_ca="", mqtt_port=""), raw)
    assert der is None and new is not None
    assert (new["mqtt_tls"], new["mqtt_ca_file"], new["mqtt_port"]) == (True, "/ca.der", 8883)
    _, _, new, der = save({**FORM, "mqtt_tls": "0", "mqtt_ca": "", "mqtt_port": "1883"}, raw)
    assert der is None and new is not None
    assert (new["mqtt_tls"], new["mqtt_port"]) == (False, 1883)


def test_a_ca_pasted_without_the_tls_box_turns_tls_on():
    # a form without the TLS field (an older page still open on the phone) keeps the file's
    # TLS setting (test_empty_passwords_keep_the_saved_ones_and_other_settings_stay); a CA
    # serves only TLS
    _, _, new, der = save({**FORM, "mqtt_ca": CA_PEM})
    assert der == CA_DER and new is not None and new["mqtt_tls"] is True


def _without_a_line(pem):
    lines = pem.split("\r\n")
    return "\r\n".join(lines[:3] + lines[4:])


WRONG_CAS = [
    ("", "mqtt_ca: TLS needs the broker's CA certificate: paste it"),
    ("ca.der", "mqtt_ca: not a PEM certificate: paste from -----BEGIN CERTIFICATE-----"),
    (CA.private_key_pem.bytes().decode(), "mqtt_ca: this is a private key: never share it"),
    (CA_PEM + CA_PEM, "mqtt_ca: holds several certificates: paste only the CA's"),
    (CA_PEM.replace("\r\n-----END", "!\r\n-----END"), "mqtt_ca: the text between the BEGIN"),
    (_without_a_line(CA_PEM), "mqtt_ca: not a whole certificate (a line missing?)"),
    (  # base64 all right, but not DER: a volunteer's own text in PEM armour
        "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQh\n-----END CERTIFICATE-----",
        "mqtt_ca: not a whole certificate",
    ),
    ("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----", "mqtt_ca: the text between"),
    ("-----BEGIN CERTIFICATE-----\nMIIB====\n-----END CERTIFICATE-----", "mqtt_ca: the text"),
]


@pytest.mark.parametrize(("pem", "message"), WRONG_CAS)
def test_a_wrong_ca_is_named_and_nothing_is_saved(pem, message):
    status, html, new, der = save(tls_form(mqtt_ca=pem))
    assert status == "HTTP/1.1 422 Unprocessable Content"
    assert (new, der) == (None, None)
    assert '<p class="problem">Not saved: ' + message.replace("'", "&#39;") in html
    assert tls_controls(html) == (True, pem), "what was pasted stays, to be fixed"


def test_a_ca_with_the_tls_box_unticked_is_refused():
    status, html, new, _ = save({**tls_form(), "mqtt_tls": "0"})
    assert (status, new) == ("HTTP/1.1 422 Unprocessable Content", None)
    assert "Not saved: mqtt_tls: tick TLS to use the CA certificate" in html
    assert tls_controls(html)[0] is False


def test_a_4096_bit_ca_fully_percent_encoded_fits_in_a_request():
    pem = big_ca_pem().replace("\n", "\r\n")
    assert len(pem) >= 2048
    fields = tls_form(mqtt_ca=pem, mqtt_password="p" * 63)
    # the worst a browser can do: every byte of every field as %XX
    body = "&".join(k + "=" + "".join(f"%{b:02X}" for b in v.encode()) for k, v in fields.items())
    assert len(body) <= setup_form.MAX_BODY
    request = f"POST / HTTP/1.1\r\nContent-Length: {len(body)}\r\n\r\n{body}".encode()
    assert setup_form.body_length(request.split(b"\r\n\r\n")[0]) == len(body)
    _, new, der = setup_form.handle(request, None)
    assert new is not None and der == base64.b64decode("".join(pem.splitlines()[1:-1]))


# -- the setup network's name and password -------------------------------------------------------


def test_the_network_is_named_after_the_chip_and_the_key_is_random_and_typeable():
    assert setup_form.ap_ssid(b"\x24\x0a\xc4\xa1\xb2\xc3") == "ShelterSignal-a1b2c3"
    key = setup_form.ap_key(bytes(range(0, 250, 25)))
    assert key == "2tkd6xqha3"
    assert len(setup_form.ap_key(bytes(range(40)))) == setup_form.KEY_LENGTH == 10
    assert len(set(setup_form.KEY_ALPHABET)) == 32
    assert not set("01lo") & set(setup_form.KEY_ALPHABET), "no look-alike characters"


# -- the same on MicroPython ---------------------------------------------------------------

SAME_ON_MICROPYTHON = [
    (get(), None, None),
    (get(), EXAMPLE, "SAFE MODE: 3 crashes in a row"),
    (BROWSER_POST, None, None),
    (post(FORM), EXAMPLE, None),
    (post(form(device_id="Front Desk", mqtt_port="18a3")), EXAMPLE, "CONFIG ERROR: x"),
    (post(form(device_id='"><script>')), None, None),
    (get(), TLS_RAW, None),
    (post(tls_form()), None, None),  # a CA pasted, CRLF lines: the same DER bytes
    (post(tls_form(mqtt_ca="", mqtt_port="")), TLS_RAW, None),
    (post({**FORM, "mqtt_tls": "0"}), TLS_RAW, None),
] + [(post(tls_form(mqtt_ca=pem)), None, None) for pem, _ in WRONG_CAS]
SAME_ON_MICROPYTHON += [(request_bytes, EXAMPLE, None) for request_bytes, _ in BAD_REQUESTS]

MICROPYTHON_CODE = """
import binascii, json
from dialcore import setup_form

for request, raw, problem in json.loads(CASES):
    response, new, der = setup_form.handle(binascii.a2b_base64(request.encode()), raw, problem)
    der = der and binascii.b2a_base64(der).decode().strip()
    print("@", json.dumps([binascii.b2a_base64(response).decode().strip(), new, der]))
print("@", json.dumps([setup_form.ap_ssid(b"\\x24\\x0a\\xc4\\xa1\\xb2\\xc3"),
                       setup_form.ap_key(bytes(range(0, 250, 25)))]))
"""


def test_micropython_answers_byte_for_byte_the_same():
    cases = [
        [base64.b64encode(request).decode(), raw, problem]
        for request, raw, problem in SAME_ON_MICROPYTHON
    ]
    code = "CASES = " + repr(json.dumps(cases)) + "\n" + MICROPYTHON_CODE
    printed = run_micropython(code, paths={"/fw": FIRMWARE})
    results = [json.loads(line[2:]) for line in printed.splitlines() if line.startswith("@ ")]
    assert results.pop() == ["ShelterSignal-a1b2c3", "2tkd6xqha3"]
    assert len(results) == len(SAME_ON_MICROPYTHON)
    cases = zip(SAME_ON_MICROPYTHON, results, strict=True)
    for (request, raw, problem), (response, new, der) in cases:
        expected, expected_new, expected_der = setup_form.handle(request, raw, problem)
        assert base64.b64decode(response) == expected, request[:40]
        assert new == expected_new
        assert (der and base64.b64decode(der)) == expected_der
    assert sum(new is not None for _, new, _ in results) == 5  # the valid posts
    assert [base64.b64decode(der) for _, _, der in results if der] == [CA_DER]
