"""The web dial in French, as the map is: in every state a desk meets, the French page shows
not one English word (labels, buttons, states, errors, holds, turn-aways, CLOSED, aria labels,
the title). A string added to the page in English only, or to en.json only, fails it."""

import json
import re

import httpx
from sqlmodel import Session

from map.i18n import CATALOGUE_DIR, catalogues
from server import holds
from server.models import DeviceChannel, Program
from server.webdial.lockout import MAX_FAILURES, WINDOW_S
from tests.server.webdial.test_dial_api import _commit
from tests.server.webdial.webapp import ingestor_down
from tests.support.waiting import scaled

PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True}
WORD = re.compile(r"[^\W\d_]+")

# Every text the page shows a person, aria labels and the title included; the language menu's
# links are in their own languages (lang="en"), so they are left out.
SHOWN = """() => {
    const lang = document.documentElement.lang;
    const shown = (el) => el.closest("[lang]").lang === lang;
    const texts = [document.title];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node; (node = walker.nextNode()); ) {
        if (shown(node.parentElement)) texts.push(node.textContent);
    }
    for (const el of document.querySelectorAll("[aria-label], [title], [placeholder]")) {
        if (!shown(el)) continue;
        for (const name of ["aria-label", "title", "placeholder"]) {
            if (el.hasAttribute(name)) texts.push(el.getAttribute(name));
        }
    }
    return texts;
}"""


def fr(key: str, form: str | None = None, **values) -> str:
    """The French text of `key` (of its plural `form`) with its placeholders filled in."""
    entry = catalogues()["fr"][key]
    return (entry[form] if form else entry).format(**values)


def words(tag: str) -> set[str]:
    """The words of the web dial's strings (keys "dial.") in the catalogue of `tag`."""
    strings = json.loads((CATALOGUE_DIR / f"{tag}.json").read_text(encoding="utf-8"))
    found = set()
    for key, entry in strings.items():
        if key.startswith("dial."):
            for form in entry.values() if isinstance(entry, dict) else [entry]:
                found |= {w.lower() for w in WORD.findall(re.sub(r"\{\w+\}", " ", form))}
    return found


# English words no French string of the dial has ("web" and "Shelter Signal" are in both).
# Common ones are listed too, so that an English string not in any catalogue is caught.
ENGLISH = (words("en") | {"the", "a", "is", "to", "and", "at", "this", "you", "yet"}) - words("fr")


def english_in(page, data: list[str]) -> list[str]:
    """The texts on `page` with an English word in them, once its data (names, labels, codes:
    not ours to translate) is taken out."""
    found = []
    for text in page.evaluate(SHOWN):
        for value in data:
            text = text.replace(value, " ")
        if {w.lower() for w in WORD.findall(text)} & ENGLISH:
            found.append(text.strip())
    return found


def test_the_french_web_dial_shows_no_english(stack, web, dials, browser):
    device_id, secret = dials.add(capacities=(20, 8))
    saved = httpx.post(
        f"{web.url}/api/v1/dial/{device_id}/commits",
        json={"counts": [12, 0]},
        headers={"Authorization": f"Bearer {secret}"},
        timeout=scaled(30),
    )
    assert saved.json()["result"] == "saved"
    with Session(stack.system.engine) as session:
        first, second = (session.get(DeviceChannel, (device_id, n)).program_id for n in (0, 1))
        # the second program opens only with an alert that is not on: CLOSED, and why
        warming = session.get(Program, second)
        warming.opens_with_alert, warming.window_start, warming.window_end = (
            "heat",
            "19:00",
            "12:00",
        )
        session.add(warming)
        session.commit()
        hold = holds.place(session, stack.system.settings, first, None, note="en autobus")
    data = [f"House {device_id}", "Room 1", "Room 2", hold.code, "en autobus", "heat"]

    context = browser.new_context(**PHONE, locale="fr-CA")  # the browser asks for French
    page = context.new_page()
    try:
        page.goto(f"{web.url}/dial/{device_id}")
        assert page.locator("html").get_attribute("lang") == "fr"
        page.get_by_label("Secret du cadran").fill("pas-le-secret")
        page.get_by_role("button", name="Ouvrir le cadran").click()
        page.get_by_text(fr("dial.error.wrong_secret")).wait_for()
        assert english_in(page, data) == []

        page.get_by_label("Secret du cadran").fill(secret)
        page.get_by_role("button", name="Ouvrir le cadran").click()
        page.locator(".hold .what", has_text=hold.code).wait_for()
        assert (
            page.locator(".hold .what")
            .inner_text()
            .startswith(fr("dial.hold.item", code=hold.code, until=""))
        )
        open_one, closed_one = page.locator(".closed").all()
        assert closed_one.is_visible() and not open_one.is_visible()
        assert closed_one.inner_text() == "FERMÉ " + fr(
            "dial.closed.why_window", kind="heat", start="19:00", end="12:00"
        )
        closed = page.get_by_label("Room 2", exact=True)
        assert closed.count() == 1 and not closed.is_visible()  # nothing to count there
        assert english_in(page, data) == []

        page.get_by_role("button", name="Room 1 : un de moins").click()
        assert (
            page.locator("#state").inner_text() == "Pas encore enregistré : appuyez sur Enregistrer"
        )
        assert english_in(page, data) == []
        page.get_by_label("Room 1", exact=True).fill("douze")
        page.get_by_role("button", name="Enregistrer").click()
        page.get_by_text("Entrez un nombre entier pour Room 1").wait_for()
        assert english_in(page, data) == []

        page.get_by_label("Room 1", exact=True).fill("11")
        page.get_by_role("button", name="Refus : pas de lit").click()
        page.locator('#state[data-state="saved"]').wait_for()
        assert ": refus, pas de lit" in page.locator("#state").inner_text()
        assert english_in(page, data) == []

        with ingestor_down(stack):
            page.get_by_role("button", name=f"Arrivée : {hold.code}").click()
            page.locator('#state[data-state="pending"]').wait_for(timeout=scaled(20_000))
            assert (
                page.locator("#state")
                .inner_text()
                .startswith("PAS ENCORE CONFIRMÉ : pas encore de réponse du serveur")
            )
            assert english_in(page, data) == []
        page.locator('#state[data-state="saved"]').wait_for(timeout=scaled(20_000))
        assert page.locator("#state").inner_text().endswith(": réservation arrivée")
        assert english_in(page, data) == []

        # the check can fail: the same page in English is full of English
        page.goto(f"{web.url}/dial/{device_id}?lang=en")
        page.locator(".closed").nth(1).wait_for()
        assert len(english_in(page, data)) > 10
    finally:
        context.close()


def test_a_locked_dial_says_so_in_french(web, dials, browser):
    device_id, _secret = dials.add()
    for _ in range(MAX_FAILURES):  # from this client: its next try is paused
        assert _commit(web, device_id, "guess", [1]).status_code == 401
    context = browser.new_context(**PHONE, locale="fr-CA")
    page = context.new_page()
    try:
        page.goto(f"{web.url}/dial/{device_id}")
        page.get_by_label("Secret du cadran").fill("encore-une-erreur")
        page.get_by_role("button", name="Ouvrir le cadran").click()
        minutes = WINDOW_S // 60
        page.get_by_text(fr("dial.error.locked", "other", n=minutes)).wait_for()
        assert english_in(page, [f"House {device_id}"]) == []
    finally:
        context.close()
