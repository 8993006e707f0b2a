"""The answer to a text: "BEDS <postal code or place> [men|women|youth|family]" (or, in
French, "LITS ... [hommes|femmes|jeunes|famille]") gets the three nearest places with a
free place by a fresh or aging count: name, free count, age of the count, distance, phone.

The availability is the public list's (server/queries.py `sites`, as the map and the API
show it): a text comes from anyone, so confidential sites are never in an answer.
"""

from dataclasses import dataclass

from sqlmodel import Session

from server import intake
from server.models import Role, Sector, utcnow
from server.queries import CURRENT, Filters, sites
from server.settings import Settings
from server.shapes import ProgramPublic
from server.sms import text
from server.sms.places import locate

KEYWORDS = {"beds": "en", "bed": "en", "lits": "fr", "lit": "fr"}
# Who for -> the sectors that serve them: a man is served by men's and mixed adult programs
# at sites that serve men or anyone (the map's Find a bed, docs/map.md), and so on
WHO = {
    "men": ((Sector.men, Sector.mixed), "men"),
    "women": ((Sector.women, Sector.mixed), "women"),
    "youth": ((Sector.youth,), None),
    "family": ((Sector.families,), None),
}
WHO_WORDS = {
    "men": "men",
    "man": "men",
    "women": "women",
    "woman": "women",
    "youth": "youth",
    "family": "family",
    "families": "family",
    "hommes": "men",
    "homme": "men",
    "femmes": "women",
    "femme": "women",
    "jeunes": "youth",
    "jeune": "youth",
    "famille": "family",
    "familles": "family",
}
# Words that ask for no more texts: the carriers' opt-out keywords (North American carriers
# require them to be honoured), in English and French. They get no answer at all.
STOP = {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "arret", "arrêt"}
ANSWERED = 3  # places in an answer: a choice, and still SMS-sized (server/sms/text.py)
PLACE_CHARS = 40  # of the place as it is repeated in the answer


@dataclass(frozen=True)
class Ask:
    language: str
    place: str
    who: str | None  # a key of WHO


def stops(message: str) -> bool:
    """Does the text ask for no more texts?"""
    return message.strip().casefold() in STOP


def parse(message: str) -> Ask | None:
    """What a text asks, or None when it is not "BEDS <place> [who]" (any case, any spaces)."""
    words = message.split()
    if not words or words[0].casefold() not in KEYWORDS:
        return None
    language, rest = KEYWORDS[words[0].casefold()], words[1:]
    who = WHO_WORDS.get(rest[-1].casefold()) if rest else None
    if who:
        rest = rest[:-1]
    return Ask(language, " ".join(rest), who)


def answer(session: Session, settings: Settings, message: str, centres) -> tuple[str, str]:
    """(language, the reply) for a text; a short help for one that is not a question."""
    ask = parse(message)
    if ask is None:
        return "en", text.BOTH_HELP
    words = text.WORDS[ask.language]
    if not ask.place:
        return ask.language, words["help"]
    place = ask.place[:PLACE_CHARS]
    point = locate(session, ask.place, centres)
    if point is None:
        return ask.language, words["unknown"].format(place=place)
    sectors, gender = WHO[ask.who] if ask.who else ((), None)
    filters = Filters(
        sectors=frozenset(sectors), has_space=True, accepting=True, gender=gender, near=point
    )
    now = utcnow()
    local = now.astimezone(settings.zone)
    who = f" ({text.SECTORS[ask.language][_sector(ask.who)]})" if ask.who else ""
    lines = [words["header"].format(place=place, who=who)]
    for site in sites(session, settings, role=Role.public, filters=filters):
        free = [p for p in site.programs if _free_now(p, sectors, local)]
        if not free:
            continue
        phone = f", {site.phone}" if site.phone else ""
        lines.append(
            words["line"].format(
                n=len(lines),
                name=text.name(site.name),
                free=sum(p.available for p in free),
                age=text.age(min(p.updated_at for p in free), now, ask.language),
                km=f"{site.distance_km:.1f}",
                phone=phone,
            )
        )
        if len(lines) > ANSWERED:
            break
    if len(lines) == 1:
        return ask.language, words["none"].format(place=place, who=who)
    return ask.language, text.fit(lines)


def _sector(who: str) -> str:
    return {"family": "families"}.get(who, who)


def free_place(program: ProgramPublic) -> bool:
    """A free place by a fresh or aging count, in an open program taking new guests: what
    a text may send someone to (a stale count is no promise)."""
    return (
        program.is_open
        and program.accepting
        and program.freshness in CURRENT
        and (program.available or 0) > 0
    )


def _free_now(program: ProgramPublic, sectors, local) -> bool:
    """A free place for who asked, with intake open now (intake hours that are not known do
    not rule it out: the phone is in the reply)."""
    return (
        free_place(program)
        and (not sectors or program.sector in sectors)
        and intake.is_open(program.intake_schedule, local) is not False
    )
