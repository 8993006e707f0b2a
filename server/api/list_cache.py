"""The kept answers of GET /api/v1/shelters, and the fast path that sends them.

Building the list for 1,000 programs costs tens of milliseconds, so each answer is kept,
per role and filters, until the data or a freshness band changes (docs/benchmarks.md,
"The list cache"). Two checks say a kept answer still holds:

- `queries.data_version`, a query of cheap aggregates over everything the list shows, read
  by the route (FastAPI, worker threads) before it builds or reuses an answer;
- the generation of `server.changes`, which differs after any commit by anyone, read with
  no query of the data. Each answer carries the generation read before its data_version.

A public GET whose query string the route answered before, with an unchanged generation and
no freshness band crossed, is answered by `FastPath` before FastAPI: no parameter parsing,
no dependencies, no worker thread, no query. Everything else (keys, new filters, a changed
generation) goes to the route, which checks data_version and rebuilds only if it changed.
"""

import asyncio
import gzip
import hashlib
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import datetime

from anyio import to_thread
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response

from server.changes import SharedRead, watch
from server.groups import Place, places
from server.models import Role, utcnow
from server.queries import Filters, data_version, freshness_changes_at, sites
from server.shapes import SiteList

# Lists kept per process, one per role and filters: the map and the outreach apps ask a
# handful of the same questions; a search near a point is rarely repeated, and each kept list
# is about 0.6 MB (plus 45 KB gzipped) with 1,000 programs, so at most ~20 MB.
CACHED_LISTS = 32
# Public query strings remembered for the fast path: several spellings of the same filters
# (parameter order, unknown parameters) share one kept answer; ~100 bytes each.
QUERY_STRINGS = 256
GZIP_LEVEL = 6  # as the app's GZipMiddleware (server/api/main.py)
KEY_HEADERS = (b"authorization", b"x-api-key")  # a caller sending one goes to get_role


# What _build makes: until when the list holds, its JSON, gzipped, ETag, places, newest reading.
_Built = tuple[datetime, bytes, bytes, str, tuple[Place, ...], datetime | None]


@dataclass(frozen=True)
class _Answer:
    """One list as sent: its JSON, gzipped, and what it was built from."""

    version: tuple  # queries.data_version when it was built
    valid_until: datetime  # the first moment a program in it changes freshness band
    body: bytes
    gzipped: bytes
    etag: str
    places: tuple[Place, ...]  # its shelters a map may place, for GET /shelters/groups
    updated_at: datetime | None  # newest reading among them
    generation: tuple | None = None  # server.changes, read before `version` was checked


class ListCache:
    """Kept answers per role and filters; only one data_version read and one build run at a
    time, shared by every request waiting for them, so a burst costs one query and at most
    one build."""

    def __init__(self, engine: Engine, settings, size: int = CACHED_LISTS):
        self.engine, self.settings, self.size = engine, settings, size
        self.changes = watch(engine)
        self._answers: OrderedDict[tuple[Role, Filters], _Answer] = OrderedDict()
        self._public: OrderedDict[bytes, tuple[Role, Filters]] = OrderedDict()  # query -> key
        self._building = asyncio.Lock()  # one build at a time
        self._version = SharedRead(lambda: to_thread.run_sync(self._read_version))

    async def answer(self, role: Role, filters: Filters, query: bytes | None = None) -> _Answer:
        """The answer for `role` and `filters` (the route's way). `query`: the raw query
        string of a public request, which the fast path then answers."""
        key = (role, filters)
        found = await self._checked(key, await self.changes.current())
        if query is not None and role is Role.public:
            self._public[query] = key
            self._public.move_to_end(query)
            while len(self._public) > QUERY_STRINGS:
                self._public.popitem(last=False)
        return found

    async def kept(self, query: bytes) -> _Answer | None:
        """The public answer for a query string the route answered before, with no query
        of the data while nothing was committed; None sends the request the route's way."""
        key = self._public.get(query)
        if key is None:
            return None
        generation = await self.changes.current()  # anything committed before this request
        if generation is None:
            return None
        found = self._answers.get(key)
        if found and found.generation == generation and utcnow() <= found.valid_until:
            return found
        return await self._checked(key, generation)  # here, not in FastAPI: see the docs

    async def _checked(self, key, generation: tuple | None) -> _Answer:
        """The answer for `key` after checking data_version (read after `generation`), built
        again when it changed."""
        version = await self._version()  # before the data: see data_version
        found = self._fresh(key, version)
        if not found:
            async with self._building:
                found = self._fresh(key, version)  # built meanwhile for another request
                if not found:
                    built = await to_thread.run_sync(self._build, *key)
                    found = _Answer(version, *built)
        # Still the data as of `generation`: the fast path may send it until that changes
        self._keep(key, replace(found, generation=generation))
        return found

    def _read_version(self) -> tuple:
        with Session(self.engine) as session:
            return data_version(session)

    def _build(self, role: Role, filters: Filters) -> _Built:
        with Session(self.engine) as session:
            return _build(session, self.settings, role, filters)

    def _keep(self, key, answer: _Answer) -> None:
        self._answers[key] = answer
        self._answers.move_to_end(key)
        while len(self._answers) > self.size:
            self._answers.popitem(last=False)  # the least recently used

    def _fresh(self, key, version: tuple) -> _Answer | None:
        found = self._answers.get(key)
        if found is None or found.version != version or utcnow() > found.valid_until:
            return None
        return found

    async def close(self) -> None:
        await self.changes.close()


class FastPath:
    """ASGI middleware: a public GET of the list that `ListCache.kept` can answer is sent
    from memory; everything else goes on to the app. Added before the other middleware, so
    that they handle both paths alike."""

    def __init__(self, app, path: str, lists: ListCache, limiter):
        self.app, self.path, self.lists, self.limiter = app, path, lists, limiter

    async def __call__(self, scope, receive, send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and scope["path"] == self.path
            and not any(name in KEY_HEADERS for name, _value in scope["headers"])
        ):
            found = await self.lists.kept(scope["query_string"])
            client = scope["client"][0] if scope.get("client") else "-"  # as deps.get_role
            # Over the public limit: the route answers the 429 (spend counts nothing then)
            if found is not None and self.limiter.spend(client) == 0:
                await send_answer(Request(scope), found)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _build(session, settings, role: Role, filters: Filters) -> _Built:
    """The list as sent (after _Answer.version): until when it holds, JSON, gzipped, ETag,
    its places and its newest reading."""
    now = utcnow()  # before the data, so a band edge it crosses ends the answer early
    items = sites(session, settings, role=role, filters=filters)
    total = len(items)
    items = items[: filters.limit]  # (None: all)
    times = [s.updated_at for s in items if s.updated_at]
    edges = [
        freshness_changes_at(p.updated_at, now, settings)
        for s in items
        for p in s.programs
        if p.updated_at
    ]
    newest = max(times) if times else None
    raw = SiteList(items=items, updated_at=newest, total=total).model_dump_json().encode()
    return (
        min(edges, default=datetime.max.replace(tzinfo=now.tzinfo)),
        raw,
        gzip.compress(raw, GZIP_LEVEL, mtime=0),
        f'"{hashlib.blake2b(raw, digest_size=16).hexdigest()}"',
        places(items),
        newest,
    )


def send_answer(request: Request, answer: _Answer) -> Response:
    """The kept bytes, gzipped when the caller accepts gzip; 304 when it has them already."""
    zipped = "gzip" in request.headers.get("accept-encoding", "")
    # Each encoding is its own representation, so each has its own strong ETag (RFC 9110)
    etag = answer.etag.removesuffix('"') + '-gzip"' if zipped else answer.etag
    headers = {"ETag": etag, "Vary": "Accept-Encoding"}
    held = {
        tag.strip().removeprefix("W/")
        for tag in request.headers.get("if-none-match", "").split(",")
    }
    if etag in held or "*" in held:
        return Response(status_code=304, headers=headers)
    if zipped:
        # Content-Encoding set: the GZipMiddleware passes the response through as it is
        headers["Content-Encoding"] = "gzip"
        return Response(answer.gzipped, media_type="application/json", headers=headers)
    return Response(answer.body, media_type="application/json", headers=headers)
