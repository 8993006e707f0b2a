"""deploy/nginx/shelter-signal.conf, run by the real nginx: TLS, the spread over API
processes, the web dial pinned to one, the event stream unbuffered, and the client's address
passed on in a way the client cannot forge.

Most tests put stand-ins behind it that answer with what they saw (their port, the path, the
forwarded headers): what they test is the proxy's routing. The last one puts the real API
behind it, to show that its public rate limit counts clients, not the proxy.
"""

import asyncio
import json
import re
import shutil
import ssl
import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import trustme

from server.runner import System
from server.settings import Settings
from tests.support.deploy_files import swapped, write_certificate
from tests.support.services import LOOPBACK, free_port, wait_for_port
from tests.support.waiting import scaled

CONF = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "shelter-signal.conf"
HOST = "signal.example.org"  # the conf's server_name, which the test certificate is for


class Upstream(ThreadingHTTPServer):
    """A stand-in API process: answers JSON naming its port and the request's headers; the
    event stream sends one event, then holds the connection until `release` is set."""

    daemon_threads = True

    def __init__(self):
        super().__init__((LOOPBACK, free_port()), _Answer)
        self.release = threading.Event()
        threading.Thread(target=self.serve_forever, daemon=True).start()


class _Answer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # as uvicorn: keeps the proxy's upstream connections open

    def do_GET(self):
        if self.path == "/api/v1/events":
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self._chunk(b"data: first\n\n")
            self.server.release.wait(scaled(30))
            self._chunk(b"")
            return
        body = json.dumps(
            {
                "port": self.server.server_port,
                "path": self.path,
                "forwarded_for": self.headers.get_all("X-Forwarded-For"),
                "forwarded_proto": self.headers.get("X-Forwarded-Proto"),
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _chunk(self, data: bytes):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def log_message(self, *_args):
        pass  # quiet tests


class Nginx:
    """nginx with the deploy conf: its ports, certificate and upstreams swapped for ours."""

    def __init__(self, first_port: int, second_port: int):
        binary = shutil.which("nginx", path="/usr/sbin:/usr/bin")
        assert binary, "nginx not found: apt-get install -y nginx-light"
        self.binary = binary
        self.dir = Path(tempfile.mkdtemp(prefix="signal-nginx-"))
        self.http_port, self.https_port = free_port(), free_port()
        self.ca = trustme.CA()
        write_certificate(self.ca, self.dir, HOST, LOOPBACK)  # LOOPBACK: what the tests dial
        text = swapped(
            CONF,
            (
                ("127.0.0.1:8001", f"{LOOPBACK}:{first_port}"),
                ("127.0.0.1:8002", f"{LOOPBACK}:{second_port}"),
                ("listen 80;", f"listen {LOOPBACK}:{self.http_port};"),
                ("listen 443 ssl http2;", f"listen {LOOPBACK}:{self.https_port} ssl http2;"),
                (f"/etc/letsencrypt/live/{HOST}/", f"{self.dir}/"),
            ),
        )
        text = re.sub(r"\n\s*listen \[::\]:\d+[^;]*;", "", text)  # no IPv6 needed here
        (self.dir / "shelter-signal.conf").write_text(text)
        # What Debian's /etc/nginx/nginx.conf wraps a site in, for this folder.
        (self.dir / "nginx.conf").write_text(
            f"pid {self.dir}/nginx.pid;\n"
            f"error_log {self.dir}/error.log;\n"
            "user root;\n"  # the test's files are root's; real workers run as www-data
            "events {}\n"
            "http {\n"
            "    access_log off;\n"
            f"    include {self.dir}/shelter-signal.conf;\n"
            "}\n"
        )
        self.process: subprocess.Popen | None = None

    def command(self, *args: str) -> list[str]:
        return [self.binary, "-c", str(self.dir / "nginx.conf"), "-p", f"{self.dir}/", *args]

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command("-e", str(self.dir / "error.log"), "-g", "daemon off;"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(LOOPBACK, self.https_port, process=self.process)

    def close(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(scaled(10))
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def upstreams():
    servers = Upstream(), Upstream()
    yield servers
    for server in servers:
        server.release.set()
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def proxy(upstreams):
    nginx = Nginx(*(server.server_port for server in upstreams))
    try:
        nginx.start()
        yield nginx
    finally:
        nginx.close()


def _client(proxy, address: str = LOOPBACK) -> httpx.Client:
    """An HTTPS client of the proxy that trusts its certificate, connecting from `address`
    (any 127.x.y.z is this machine: a second address is a second client)."""
    context = ssl.create_default_context()
    proxy.ca.configure_trust(context)
    transport = httpx.HTTPTransport(verify=context, local_address=address)
    return httpx.Client(base_url=f"https://{LOOPBACK}:{proxy.https_port}", transport=transport)


def test_nginx_accepts_the_configuration(upstreams):
    nginx = Nginx(*(server.server_port for server in upstreams))
    try:
        checked = subprocess.run(
            nginx.command("-t", "-e", str(nginx.dir / "error.log")),
            capture_output=True,
            text=True,
            timeout=scaled(30),
        )
    finally:
        nginx.close()
    assert checked.returncode == 0, checked.stderr


def test_plain_http_is_sent_to_https(proxy):
    answer = httpx.get(f"http://{LOOPBACK}:{proxy.http_port}/api/v1/shelters?near=1")
    assert answer.status_code == 301
    assert answer.headers["location"] == f"https://{LOOPBACK}/api/v1/shelters?near=1"


def test_requests_are_spread_over_every_api_process(proxy, upstreams):
    with _client(proxy) as client:
        ports = {client.get("/api/v1/shelters").json()["port"] for _ in range(8)}
        answer = client.get("/api/v1/shelters")
    assert ports == {server.server_port for server in upstreams}
    assert answer.headers["strict-transport-security"].startswith("max-age=")


@pytest.mark.parametrize(
    "path", ["/dial/desk-01", "/api/v1/dial/desk-01/commits", "/api/v1/sms/wishes"]
)
def test_the_web_dial_and_sms_always_reach_the_same_process(proxy, upstreams, path):
    with _client(proxy) as client:
        ports = {client.get(path).json()["port"] for _ in range(8)}
    assert ports == {upstreams[0].server_port}


def test_the_client_address_is_passed_on_and_cannot_be_forged(proxy):
    with _client(proxy, "127.0.0.2") as client:
        seen = client.get("/api/v1/shelters", headers={"X-Forwarded-For": "203.0.113.9"}).json()
    assert seen["forwarded_for"] == ["127.0.0.2"]  # the real client; its own header dropped
    assert seen["forwarded_proto"] == "https"


def test_the_event_stream_is_passed_on_as_it_comes(proxy, upstreams):
    """The stand-in sends one event and holds the stream open: a buffering proxy would sit
    on it until the stream ends, and the read would time out."""
    try:
        with (
            _client(proxy) as client,
            client.stream("GET", "/api/v1/events", timeout=scaled(10)) as s,
        ):
            assert s.headers["content-type"] == "text/event-stream"
            assert next(s.iter_lines()) == "data: first"
    finally:
        for server in upstreams:
            server.release.set()


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    """The real API (`shelter-signal serve`'s System) with a public burst of 3 requests, refilled
    at 1 a minute: far slower than the test, so a 4th request at once is over the limit."""
    folder = tmp_path_factory.mktemp("api")
    settings = Settings(
        _env_file=None,
        database_url=f"sqlite:///{folder / 'signal.db'}",
        http_port=free_port(),
        public_rate_burst=3,
        public_rate_per_minute=1,
    )
    system = System(settings, parts=("web",))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(system.start(), loop).result(scaled(30))
    yield settings.http_port
    asyncio.run_coroutine_threadsafe(system.stop(), loop).result(scaled(30))
    loop.call_soon_threadsafe(loop.stop)
    thread.join(scaled(10))


def test_the_public_rate_limit_counts_each_client_behind_the_proxy(api):
    nginx = Nginx(api, api)
    try:
        nginx.start()
        with _client(nginx, "127.0.0.2") as first, _client(nginx, "127.0.0.3") as second:
            codes = [first.get("/api/v1/shelters").status_code for _ in range(4)]
            assert codes == [200, 200, 200, 429]  # the burst of 3, then over the limit
            assert second.get("/api/v1/shelters").status_code == 200  # a bucket of its own
    finally:
        nginx.close()
