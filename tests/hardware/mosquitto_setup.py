"""A real Mosquitto configured exactly as hardware/README.md tells operators to.

The README's `conf` block (step 4) is read from the guide itself; only its ports and file
paths are swapped for free ports and the test's files. So a test that passes with this
broker proves the documented set-up works, not a look-alike.
"""

import os
import re
import signal

from hardware.tools import HARDWARE
from tests.support.services import Mosquitto, free_port, wait_for_port

GUIDE = HARDWARE / "README.md"
MARKER = "<!-- mosquitto.conf:"


def documented_config() -> str:
    """The Mosquitto configuration block of the guide, as printed there."""
    text = GUIDE.read_text()
    found = re.search(re.escape(MARKER) + r".*?\n```conf\n(.*?)```", text, re.DOTALL)
    assert found, f"{GUIDE} has no ```conf block after {MARKER}"
    return found.group(1)


class GuideBroker(Mosquitto):
    """Server listener on `port` (no password), dials' listener on `device_port`.

    `url` (from Mosquitto) is what the server's parts use; `device_port` is for dials.
    """

    def __init__(self, passwd_file, acl_file):
        self.passwd_file, self.acl_file = passwd_file, acl_file
        self.device_port = free_port()
        super().__init__()

    def _write_config(self) -> None:
        text = documented_config()
        for documented, ours in (
            ("listener 1883 127.0.0.1", f"listener {self.port} {self.host}"),
            ("listener 1884", f"listener {self.device_port} {self.host}"),
            ("/etc/mosquitto/shelter-signal.passwd", str(self.passwd_file)),
            ("/etc/mosquitto/shelter-signal.acl", str(self.acl_file)),
        ):
            assert documented in text, f"the guide's config no longer says {documented!r}"
            text = text.replace(documented, ours)
        lines = [text, "log_dest stderr", "log_type error", "log_type warning"]
        if os.geteuid() == 0:
            lines.append("user root")  # as in services.Mosquitto: keep root, own temp dir
        self.config_path.write_text("\n".join(lines) + "\n")

    def start(self) -> "GuideBroker":
        super().start()
        wait_for_port(self.host, self.device_port, timeout=10)
        return self

    @property
    def device_url(self) -> str:
        return f"mqtt://{self.host}:{self.device_port}"

    def reload(self) -> None:
        """What `systemctl reload mosquitto` does: read the password and ACL files again."""
        self._process.send_signal(signal.SIGHUP)
