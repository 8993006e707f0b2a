"""Translations: every catalogue says everything English says, with the same placeholders, and
adding a language is adding a file."""

import json
import re
import shutil

import httpx
import pytest

from map import city_html, map_html
from map.i18n import CATALOGUE_DIR, catalogues, choose, languages

PLACEHOLDER = re.compile(r"\{(\w+)\}")


def raw(tag: str) -> dict:
    return json.loads((CATALOGUE_DIR / f"{tag}.json").read_text(encoding="utf-8"))


def placeholders(entry) -> set[str]:
    forms = entry.values() if isinstance(entry, dict) else [entry]
    return {name for form in forms for name in PLACEHOLDER.findall(form)}


@pytest.mark.parametrize("tag", sorted(p.stem for p in CATALOGUE_DIR.glob("*.json")))
def test_each_catalogue_is_complete_with_the_same_placeholders(tag):
    english, other = raw("en"), raw(tag)
    assert set(other) == set(english), "missing or extra keys"
    for key, entry in english.items():
        assert placeholders(other[key]) == placeholders(entry), key
        if isinstance(other[key], dict):
            assert "other" in other[key], f"{key}: plural forms need 'other'"


def test_a_new_language_is_a_file_and_untranslated_keys_fall_back_to_english(tmp_path):
    for path in CATALOGUE_DIR.glob("*.json"):
        shutil.copy(path, tmp_path)
    (tmp_path / "es.json").write_text(
        json.dumps({"language.name": "Español", "view.list": "Lista"}), encoding="utf-8"
    )
    assert languages(tmp_path)["es"] == "Español"
    spanish = catalogues(tmp_path)["es"]
    assert spanish["view.list"] == "Lista"
    assert spanish["view.map"] == raw("en")["view.map"]
    assert choose(None, None, "es-MX,es;q=0.9", tmp_path) == "es"


@pytest.mark.parametrize(
    ("asked", "remembered", "header", "expected"),
    [
        ("fr", None, "en-CA", "fr"),  # the URL wins
        (None, "fr", "en-CA", "fr"),  # then the reader's earlier choice
        (None, None, "fr-CA,fr;q=0.9,en;q=0.5", "fr"),  # then the browser
        (None, None, "de-DE, en;q=0.4, fr;q=0.7", "fr"),  # by weight, not by order
        (None, None, "de-DE", "en"),  # nothing we have: English
        ("xx", None, "FR", "fr"),  # an unknown tag is passed over, not an error
        (None, None, "fr;q=0, en;q=0.1", "en"),  # q=0 means "not this one"
        (None, None, "fr;q=abc, en", "en"),  # a malformed weight drops only that entry
    ],
)
def test_language_choice(asked, remembered, header, expected):
    assert choose(asked, remembered, header) == expected


@pytest.mark.parametrize("tag", sorted(languages()))
def test_pages_render_in_each_language_with_its_tag(tag):
    strings = catalogues()[tag]
    outreach = map_html(lang=tag)
    assert f'<html lang="{tag}">' in outreach
    assert f"<title>{strings['page.title']}</title>" in outreach
    # every script, stylesheet and link is our own (the tiles' URL is in a script, not here)
    assert not re.findall(r'(?:src|href)="(?:https?:)?//', outreach)
    city = city_html(lang=tag)
    assert f'<html lang="{tag}">' in city
    assert strings["city.key.heading"] in city


def test_the_server_remembers_a_chosen_language(demo):
    chosen = httpx.get(demo.http + "/city?lang=fr")
    assert chosen.headers["content-language"] == "fr"
    assert chosen.cookies["ss_lang"] == "fr"
    again = httpx.get(demo.http + "/", cookies={"ss_lang": "fr"}, headers={"Accept-Language": "en"})
    assert again.headers["content-language"] == "fr"
    assert "Accept-Language" in again.headers["vary"]
    browser = httpx.get(demo.http + "/", headers={"Accept-Language": "fr-CA"})
    assert browser.headers["content-language"] == "fr" and "ss_lang" not in browser.cookies
