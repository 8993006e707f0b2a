"""Server-Sent Events: every change to a site's availability, as it is committed."""

import asyncio

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

    async def stream():
        try:
            yield f"retry: {RETRY_MS}\n\n"
            while True:
                try:
                    site = await asyncio.wait_for(queue.get(), settings.events_keepalive_seconds)
                except TimeoutError:
                    yield KEEPALIVE
                    continue
                if site is None:  # dropped for lagging: the browser reconnects and catches up
                    return
                if site == HIDDEN:
                    yield "event: hidden\ndata: {}\n\n"
                    continue
                if isinstance(site, Gone):
                    yield f'event: gone\ndata: {{"id": {int(site)}}}\n\n'
                    continue
                yield f"event: site\ndata: {site.model_dump_json()}\n\n"
        finally:
            broadcaster.unsubscribe(queue)

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)
