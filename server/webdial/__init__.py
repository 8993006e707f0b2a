"""The web dial: a phone page that sets a site's counts where there is no hardware dial.

A web dial is a device like any other (a Device row paired to programs, with a hashed
secret). The API builds its `state` message with the firmware's own encoder, sends it to
the broker as that device and waits for the ingestor's `ack`, so a web count is validated,
numbered, stored and acknowledged exactly like a turn of the hardware dial
(docs/web-dial.md).

- numbering.py: the (boot, seq) of each web commit, as a device numbers its own;
- lockout.py: too many wrong secrets for a dial pause further tries;
- send.py: one commit over MQTT, and the ingestor's answer;
- templates/dial.html: the page, rendered in the reader's language with the map's
  catalogues (map/i18n.py); static/: its CSS and JavaScript (nothing from a CDN).
"""

from pathlib import Path

from firmware.dialcore import protocol

STATIC_DIR = Path(__file__).parent / "static"
TEMPLATE_DIR = Path(__file__).parent / "templates"
ID_PREFIX = "web-"  # web dials number their own commits, so a hardware dial can never be one


def is_web_dial(device_id: str) -> bool:
    return device_id.startswith(ID_PREFIX) and protocol.valid_device_id(device_id)
