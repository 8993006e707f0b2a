"""Wishes by SMS: "text this number when a bed opens that fits", sent to the provider's
adapter at SIGNAL_SMS_WEBHOOK_URL the moment a matching program goes from no free place (by a
fresh or aging count) to at least one.

Wishes live in this process's memory only, each with its phone number, for at most
SIGNAL_SMS_WISH_MINUTES, and end at their first text: a number is never written to the
database, a log or a disk, so a restart drops every wish (the worker makes it again). With
several API processes, each watches the wishes made through it.

The watch reads the availability every API answer shows (server/queries.py `sites`, as
outreach sees it), and only when something it shows changed (`data_version`) or a count
passed into another freshness band: with wishes waiting and nothing committed, a look costs
one small query a second.
"""

import asyncio
import json
import logging
import secrets
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session

from server.models import Role, Sector, utcnow
from server.queries import Filters, data_version, freshness_changes_at, sites
from server.settings import Settings
from server.sms import text
from server.sms.inbound import free_place
from server.sms.numbers import Numbers

log = logging.getLogger(__name__)
# Wishes one process keeps: each is under a kilobyte, and a leaked outreach key must not be
# able to fill the memory; far more than a city's outreach teams have people waiting at once.
MAX_WISHES = 1000
SEND_TIMEOUT_S = 5  # an adapter that has not answered by then is down: try again later
RETRY_S = 30  # between two tries of a text the adapter refused or did not take
NEVER = datetime.max.replace(tzinfo=UTC)


class TooMany(RuntimeError):
    pass


@dataclass
class Wish:
    id: str
    key_id: int | str | None  # the API key that made it: only it may end it
    number: str
    language: str
    filters: Filters  # sectors, eligibility, near and radius_km; has_space and accepting
    expires_at: datetime
    body: dict | None = None  # the text to send, once a bed opened
    retry_at: datetime | None = None


class Wishes:
    def __init__(self, settings: Settings, numbers: Numbers):
        self.settings = settings
        self.numbers = numbers
        self._wishes: dict[str, Wish] = {}  # by number's salted hash: one wish per number
        self._lock = threading.Lock()  # the wishes (routes run in worker threads)
        self._looking = threading.Lock()  # what the looks compare (the watch, a first wish)
        self._free: set[int] | None = None  # programs with a free place at the last look
        self._version: tuple | None = None
        self._edge = NEVER  # when the next count passes into another freshness band

    def add(
        self,
        session: Session,
        key_id,
        number: str,
        language: str,
        filters: Filters,
        minutes: int,
    ) -> Wish:
        """A new wish for `number`, replacing the one it had; TooMany past MAX_WISHES. What
        is free now is looked at first (for the wishes waiting already): a bed that is free
        as the wish is made did not open for it."""
        wish = Wish(
            id=secrets.token_urlsafe(9),
            key_id=key_id,
            number=number,
            language=language,
            filters=filters,
            expires_at=utcnow() + timedelta(minutes=minutes),
        )
        hashed = self.numbers.hashed(number)
        # One look at a time, the wish added within it: a look in between would find nobody
        # waiting and forget what was free, and a bed opening next would go unseen.
        with self._looking:
            with self._lock:
                self._forget_expired(utcnow())
                if hashed not in self._wishes and len(self._wishes) >= MAX_WISHES:
                    raise TooMany(f"{MAX_WISHES} wishes are waiting in this server process")
                waiting = [w for key, w in self._wishes.items() if key != hashed]
            self._look(session, waiting, utcnow())
            with self._lock:
                self._wishes[hashed] = wish
        return wish

    def end(self, wish_id: str, key_id) -> bool:
        """End the wish `wish_id` made by `key_id`; False when it has none such."""
        with self._lock:
            for hashed, wish in list(self._wishes.items()):
                if wish.id == wish_id and wish.key_id == key_id:
                    del self._wishes[hashed]
                    return True
        return False

    def forget(self, number: str) -> None:
        """End the wish waiting for `number`, if any: its owner texted STOP."""
        with self._lock:
            self._wishes.pop(self.numbers.hashed(number), None)

    def run(self, engine: Engine) -> None:
        """One look for beds that opened, then the texts due: what the watch does each
        second."""
        with Session(engine) as session:
            due = self.look(session)
        for wish in due:
            self._send(wish)

    def look(self, session: Session) -> list[Wish]:
        """Give every waiting wish that a program opened for its text; the wishes with a
        text to send now."""
        now = utcnow()
        with self._looking:  # (add() puts a wish in within one: see there)
            with self._lock:
                self._forget_expired(now)
                waiting = list(self._wishes.values())
            if not waiting:  # nobody waits: the next wish starts from what is free then
                self._free = None
                return []
            self._look(session, waiting, now)
        return [w for w in waiting if w.body and (w.retry_at is None or w.retry_at <= now)]

    def _look(self, session: Session, waiting: list[Wish], now: datetime) -> None:
        version = data_version(session)  # before the data, as data_version says
        if self._free is None or version != self._version or now >= self._edge:
            self._version = version
            self._watch(session, waiting, now)

    def _watch(self, session: Session, waiting: list[Wish], now: datetime) -> None:
        every = sites(session, self.settings, role=Role.outreach)
        free = {p.id: s.id for s in every for p in s.programs if free_place(p)}
        self._edge = min(
            (
                freshness_changes_at(p.updated_at, now, self.settings)
                for s in every
                for p in s.programs
                if p.updated_at is not None
            ),
            default=NEVER,
        )
        before, self._free = self._free, set(free)
        if before is None:
            return  # the first look: what is free now opened before anyone wished
        opened = {program: site for program, site in free.items() if program not in before}
        for wish in waiting:
            if opened and wish.body is None:
                self._match(session, wish, opened, now)

    def _match(self, session: Session, wish: Wish, opened: dict[int, int], now) -> None:
        """The wish's text, for the nearest (or first by name) site with a program that
        opened and fits."""
        found = sites(session, self.settings, set(opened.values()), Role.outreach, wish.filters)
        for site in found:
            for program in site.programs:
                if program.id in opened and _fits(program.sector, wish.filters.sectors):
                    words = text.WORDS[wish.language]
                    phone = words["call"].format(phone=site.phone) if site.phone else ""
                    message = words["opened"].format(
                        free=program.available,
                        name=text.name(site.name),
                        program=text.name(program.name),
                        sector=text.SECTORS[wish.language][program.sector],
                        age=text.age(program.updated_at, now, wish.language),
                        phone=phone,
                    )
                    wish.body = {
                        "kind": "bed_opened",
                        "to": wish.number,
                        "text": text.fit([message]),
                        "language": wish.language,
                    }
                    return

    def _send(self, wish: Wish) -> None:
        if post(self.settings, wish.body):
            with self._lock:
                hashed = self.numbers.hashed(wish.number)
                if self._wishes.get(hashed) is wish:
                    del self._wishes[hashed]  # answered: the number is forgotten
        else:
            wish.retry_at = utcnow() + timedelta(seconds=RETRY_S)

    def _forget_expired(self, now: datetime) -> None:
        for hashed, wish in list(self._wishes.items()):
            if wish.expires_at <= now:
                if wish.body:
                    log.warning("SMS wish %s ended unsent: the webhook never took it", wish.id)
                del self._wishes[hashed]


def _fits(sector: Sector, sectors: frozenset[Sector]) -> bool:
    return not sectors or sector in sectors


def post(settings: Settings, body: dict) -> bool:
    """POST a text's body to the webhook; True when it answered 2xx. A failure is logged
    without the number."""
    headers = {"Content-Type": "application/json"}
    if settings.sms_webhook_token:
        headers["Authorization"] = f"Bearer {settings.sms_webhook_token.get_secret_value()}"
    request = urllib.request.Request(
        settings.sms_webhook_url, json.dumps(body).encode(), headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=SEND_TIMEOUT_S):
            return True
    except urllib.error.HTTPError as e:
        log.warning("the SMS webhook refused a %s text: HTTP %s", body["kind"], e.code)
    except (urllib.error.URLError, OSError) as e:
        log.warning("the SMS webhook did not take a %s text: %s", body["kind"], e)
    return False


LOOK_S = 1.0  # a text goes within a second or two of the count that freed the bed


async def watch(engine: Engine, wishes: Wishes) -> None:
    """Look for opened beds every LOOK_S while the API runs (server/api/main.py)."""
    while True:
        await asyncio.sleep(LOOK_S)
        try:
            await asyncio.to_thread(wishes.run, engine)
        except Exception:  # a database hiccup must not end the watch
            log.exception("looking for beds that opened for SMS wishes failed; retrying")
