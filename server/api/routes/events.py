"""Server-Sent Events: every change to a site's availability, as it is committed."""

import asyncio
import zlib

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from server.api.deps import KEY_OPTIONAL, SettingsDep
from server.api.live import HIDDEN, Gone

router = APIRouter(tags=["events"])
# A `keepalive` event every SIGNAL_EVENTS_KEEPALIVE_SECONDS keeps proxies and phones from
# closing the stream, and tells the page its link is alive: an SSE comment line would do the
# first, but a browser's EventSource never shows comments to the page.
KEEPALIVE = "event: keepalive\ndata: {}\n\n"
RETRY_MS = 3000  # how long a browser waits before reconnecting after a drop
# The stream is gzipped, each event flushed at once (Starlette's GZipMiddleware leaves event
# streams alone: it would hold events back). Events repeat the same keys, so one compressor
# for the whole stream shrinks a site event of about 1.2 KB to a few hundred bytes: an hour
# of changes on a phone plan (docs/map.md, Speed and weight). Level 6, as for the rest.
GZIP_WBITS = 16 + zlib.MAX_WBITS  # a gzip header and trailer, as Content-Encoding: gzip wants


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "`site` events; `hidden`: a confidential site changed; "
            "`keepalive` when nothing else was sent for SIGNAL_EVENTS_KEEPALIVE_SECONDS",
        }
    },
    openapi_extra=KEY_OPTIONAL,
)
async def events(request: Request, settings: SettingsDep) -> StreamingResponse:
    broadcaster = request.app.state.broadcaster
    queue = broadcaster.subscribe()
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Vary": "Accept-Encoding"}
    gzip = "gzip" in request.headers.get("accept-encoding", "")
    if gzip:
        headers["Content-Encoding"] = "gzip"
    compressor = zlib.compressobj(6, zlib.DEFLATED, GZIP_WBITS)

    def sent(text: str) -> bytes:
        """One event as it goes out: compressed and flushed whole, or as it is."""
        data = text.encode()
        return compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH) if gzip else data

    async def stream():
        try:
            yield sent(f"retry: {RETRY_MS}\n\n")
            while True:
                try:
                    site = await asyncio.wait_for(queue.get(), settings.events_keepalive_seconds)
                except TimeoutError:
                    yield sent(KEEPALIVE)
                    continue
                if site is None:  # dropped for lagging: the browser reconnects and catches up
                    if gzip:
                        yield compressor.flush()  # the gzip trailer: the stream ends whole
                    return
                if site == HIDDEN:
                    yield sent("event: hidden\ndata: {}\n\n")
                elif isinstance(site, Gone):
                    yield sent(f'event: gone\ndata: {{"id": {int(site)}}}\n\n')
                else:
                    yield sent(f"event: site\ndata: {site.model_dump_json()}\n\n")
        finally:
            broadcaster.unsubscribe(queue)

    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)
