"""What the texts say, in English and French: the language of the keyword a person wrote
(BEDS or LITS), or the one a worker chose for a wish.

Every text fits LIMIT characters: three concatenated GSM-7 segments (153 characters each).
Three places with their name, free count, age and phone need about 250; a provider bills
each segment, and old phones (the ones without a data plan) reassemble three reliably. The French
texts use only accents GSM-7 has (é, è, à, ù): one outside it (ê, ç) makes a provider send
the whole text as UCS-2, 67 characters a segment.
"""

from datetime import datetime

LIMIT = 3 * 153
NAME_CHARS = 32  # a shelter's name in a text: "Fred Victor Women's Hostel" fits whole
LANGUAGES = ("en", "fr")

SECTORS = {
    "en": {
        "men": "men",
        "women": "women",
        "youth": "youth",
        "families": "families",
        "mixed": "mixed adult",
    },
    "fr": {
        "men": "hommes",
        "women": "femmes",
        "youth": "jeunes",
        "families": "familles",
        "mixed": "adultes mixtes",
    },
}
WORDS = {
    "en": {
        "help": "Text BEDS and a postal code or place, e.g. BEDS M5V 2T6 women "
        "(or men, youth, family).",
        "unknown": 'No place found for "{place}". Text BEDS and a postal code (M5V 2T6), '
        "a street or a city.",
        "none": "No shelter near {place}{who} takes people in now with a free place by a "
        "recent count. Text again later.",
        "header": "Free now near {place}{who}:",
        "line": "{n}. {name}: {free} free, {age}, {km} km{phone}",
        "opened": "Bed open: {free} free at {name} ({program}, {sector}), counted {age}.{phone}",
        "call": " Call {phone}.",
        "minutes": "{n} min ago",
        "hours": "{n} h ago",
    },
    "fr": {
        "help": "Envoyez LITS et un code postal ou un lieu, p. ex. LITS M5V 2T6 femmes "
        "(ou hommes, jeunes, famille).",
        "unknown": 'Lieu introuvable : "{place}". Envoyez LITS et un code postal (M5V 2T6), '
        "une rue ou une ville.",
        "none": "Aucun refuge près de {place}{who} n'accueille maintenant avec une place "
        "libre selon un compte récent. Réessayez plus tard.",
        "header": "Libre maintenant près de {place}{who} :",
        "line": "{n}. {name} : {free} libre(s), {age}, {km} km{phone}",
        "opened": "Place libre : {free} à {name} ({program}, {sector}), compté {age}.{phone}",
        "call": " Tél. {phone}.",
        "minutes": "il y a {n} min",
        "hours": "il y a {n} h",
    },
}
# The help for a text whose language is not known: both, still one segment each
BOTH_HELP = f"{WORDS['en']['help']} / {WORDS['fr']['help']}"


def age(updated_at: datetime, now: datetime, language: str) -> str:
    """How old a count is, in whole minutes under two hours, then whole hours."""
    minutes = max(int((now - updated_at).total_seconds() // 60), 0)
    if minutes < 120:
        return WORDS[language]["minutes"].format(n=minutes)
    return WORDS[language]["hours"].format(n=minutes // 60)


def name(text: str) -> str:
    return text if len(text) <= NAME_CHARS else text[: NAME_CHARS - 3].rstrip() + "..."


def fit(lines: list[str]) -> str:
    """The lines joined, the last ones left out until the text is within LIMIT (the first
    line, a header or a whole answer, always fits: names are cut to NAME_CHARS)."""
    while len(lines) > 1 and len("\n".join(lines)) > LIMIT:
        lines = lines[:-1]
    return "\n".join(lines)[:LIMIT]
