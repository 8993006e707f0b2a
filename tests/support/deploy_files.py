"""The production files in deploy/, made to run in a test: same text, the test's own values."""

from pathlib import Path

import trustme


def swapped(path: Path, pairs) -> str:
    """`path`'s text with each production value replaced by the test's. Fails when the file no
    longer says a value, so a test can never run a look-alike of the shipped file."""
    text = path.read_text()
    for documented, ours in pairs:
        assert documented in text, f"{path} no longer says {documented!r}"
        text = text.replace(documented, ours)
    return text


def write_certificate(ca: trustme.CA, folder: Path, *hosts: str) -> None:
    """A certificate from `ca` for `hosts`, as certbot leaves it: fullchain.pem, privkey.pem."""
    certificate = ca.issue_cert(*hosts)
    certificate.cert_chain_pems[0].write_to_path(folder / "fullchain.pem")
    certificate.private_key_pem.write_to_path(folder / "privkey.pem")
