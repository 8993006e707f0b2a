"""The virtual dial's world: the production broker, the real ingestor and a database.

Mosquitto runs with deploy/mosquitto/'s own files (TLS for dials, accounts, ACL), the
ingestor logs in with the server's account, and each test gets a registered, paired device
with its own broker account, provisioned the way the docs tell a volunteer
(server/provision.py: `device add` writes the config, `device flash` stages the files).
"""

import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlmodel import Session, select

from firmware.dialcore import protocol
from server import provision
from server.db import make_engine, migrate
from server.ingest.client import Ingestor
from server.models import CurrentState, DeadLetter, Device, Reading
from tests.hardware.mosquitto_setup import GuideBroker
from tests.support.deploy_files import write_certificate
from tests.support.stack import add_paired_site
from tests.support.virtual_dial import VirtualDial
from tests.support.waiting import scaled

BROKER_NAME = "broker.signal.test"  # the dial's mqtt_host: its hosts file says where it is
MAX_PAYLOAD = 4096  # the default SIGNAL_MAX_PAYLOAD_BYTES


@pytest.fixture(scope="session")
def vendor(request) -> Path | None:
    """Where `device flash` takes mqtt_as and ssd1306 from: ../shared/vendor beside the
    clone (the same commits, unmodified), else GitHub, as for a volunteer (None)."""
    shared = Path(request.config.rootpath).parent / "shared" / "vendor"
    vendor = shared if shared.is_dir() else None
    try:
        provision.library_files(vendor)  # fetched once (cached): a clear error, once
    except provision.ProvisionError as e:
        raise RuntimeError(
            f"the virtual dial needs mqtt_as and ssd1306: no ../shared/vendor beside the "
            f"clone, and {e}. Put the vendor folder there, or give this machine GitHub "
            "(docs/testing.md)"
        ) from None
    return vendor


@pytest.fixture(scope="session")
def dial_broker(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dial-broker")
    broker = GuideBroker(folder / "passwd")
    write_certificate(broker.ca, broker.dir, "127.0.0.1", "localhost", BROKER_NAME)
    with broker:
        yield broker


@dataclass
class World:
    broker: GuideBroker
    engine: object
    folder: Path
    vendor: Path | None

    def provision(
        self, device_id: str, password: str | None = None, source: bool = False, **config
    ) -> Path:
        """Register `device_id` (a site, a 20-bed program on channel 0, a broker account) and
        stage its flash as `device add` + `device flash [--source]` do; the flash folder is
        returned."""
        secret = password or f"secret-{device_id}"
        self.register(device_id, secret)
        folder = provision.device_dir(self.folder, device_id)
        cfg = provision.build_config(
            device_id,
            secret,
            "ShelterStaff",
            "wifi-password",
            BROKER_NAME,
            self.broker.tls_port,
            tls=True,
        )
        cfg.update(settle_ms=300, **config)
        provision.write_config(folder, cfg)
        ca_file = folder.parent / f"{device_id}-ca.der"
        ca_file.write_bytes(der(self.broker))
        provision.add_ca(folder, ca_file)
        return provision.stage(folder, self.vendor, source)

    def register(self, device_id: str, secret: str) -> None:
        """`device add` on the server (a site, a 20-bed program on channel 0) and the
        device's broker account, with no config for the dial."""
        with Session(self.engine) as session:
            add_paired_site(session, device_id)
            session.commit()
        provision.set_mosquitto_password(self.broker.passwd_file, device_id, secret)
        self.broker.reload()

    def dial(self, flash: Path, **options) -> VirtualDial:
        return VirtualDial(flash, hosts={BROKER_NAME: "127.0.0.1"}, **options)

    def current(self, device_id: str) -> CurrentState | None:
        with Session(self.engine) as session:
            return session.exec(
                select(CurrentState).where(CurrentState.device_id == device_id)
            ).first()

    def readings(self, device_id: str) -> list[Reading]:
        with Session(self.engine) as session:
            query = select(Reading).where(Reading.device_id == device_id).order_by(Reading.id)
            return list(session.exec(query))

    def device(self, device_id: str) -> Device:
        with Session(self.engine) as session:
            return session.get(Device, device_id)

    def dead_letters(self, device_id: str) -> list[DeadLetter]:
        """What the ingestor refused of this device's messages (the broker is shared by the
        session: other tests' dials left retained messages there)."""
        with Session(self.engine) as session:
            letters = session.exec(select(DeadLetter)).all()
        return [d for d in letters if d.topic.startswith(protocol.topic(device_id, ""))]


def der(broker: GuideBroker) -> bytes:
    """The test CA in DER, as `openssl x509 -outform der` writes it (firmware/README.md)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    return x509.load_pem_x509_certificate(broker.ca.cert_pem.bytes()).public_bytes(Encoding.DER)


@pytest.fixture
def world(dial_broker, vendor, tmp_path):
    database = f"sqlite:///{tmp_path / 'signal.db'}"
    migrate(database)
    engine = make_engine(database)
    ingestor = Ingestor(engine, dial_broker.url, f"ingest-{uuid.uuid4().hex[:6]}", MAX_PAYLOAD)
    ingestor.start()
    assert ingestor.connected.wait(scaled(10)), "the ingestor did not connect"
    try:
        yield World(dial_broker, engine, tmp_path / "devices", vendor)
    finally:
        ingestor.stop()
        engine.dispose()
