"""The event stream on the wire: gzipped for a client that takes gzip, each event flushed
whole so it can be read at once, and plain for one that does not."""

import uuid
import zlib

import httpx

from firmware.dialcore import protocol
from tests.support.stack import Stack, settings_for
from tests.support.waiting import scaled


def test_the_stream_is_gzipped_event_by_event_and_plain_when_not_asked(mosquitto, tmp_path):
    settings = settings_for(f"sqlite:///{tmp_path / 'events.db'}", mosquitto.url)
    with Stack(settings) as stack:
        device_id = f"gz-{uuid.uuid4().hex[:6]}"
        stack.add_site(device_id, name="Oak House")
        url = stack.http + "/api/v1/events"
        gzip = {"Accept-Encoding": "gzip"}
        with httpx.stream("GET", url, headers=gzip, timeout=scaled(10)) as response:
            assert response.headers["content-encoding"] == "gzip"
            chunks = response.iter_raw()
            reader = zlib.decompressobj(16 + zlib.MAX_WBITS)
            assert reader.decompress(next(chunks)) == b"retry: 3000\n\n"  # whole, at once
            topic = protocol.topic(device_id, "state")
            stack.publish(topic, protocol.encode_state(1, 1, "occupied", 0, [(4, 20)]))
            event = b""
            while not event.endswith(b"\n\n"):
                event += reader.decompress(next(chunks))
            assert event.startswith(b"event: site\ndata: {") and b'"name":"Oak House"' in event

        plain = {"Accept-Encoding": "identity"}
        with httpx.stream("GET", url, headers=plain, timeout=scaled(10)) as response:
            assert "content-encoding" not in response.headers
            assert next(response.iter_raw()) == b"retry: 3000\n\n"
