"""The fake anime as AniDB's HTTP API XML (see :mod:`.shapes` for the conventions)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from avs_enricher.testing.catalogue import DIRECTOR, FakeAnime
from avs_enricher.testing.shapes import jst_date

_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def _add(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    node = ET.SubElement(parent, tag, attributes)
    if text is not None:
        node.text = text
    return node


def _title(parent: ET.Element, lang: str, kind: str | None, text: str) -> None:
    node = _add(parent, "title", text, **({"type": kind} if kind else {}))
    node.set(_LANG, lang)


def anidb_xml(a: FakeAnime) -> bytes:
    root = ET.Element("anime", {"id": str(a.anidb_id), "restricted": "false"})
    _add(root, "type", "Movie" if a.type == "MOVIE" else "TV Series")
    _add(root, "episodecount", str(a.episodes_total))
    _add(root, "startdate", a.start)
    if a.end:
        _add(root, "enddate", a.end)
    titles = _add(root, "titles")
    _title(titles, "x-jat", "main", a.title)
    _title(titles, "ja", "official", a.title_japanese)
    _title(titles, "en", "official", a.title_english)
    _title(titles, "en", "synonym", f"{a.title_english} TV")
    related = _add(root, "relatedanime")
    _add(related, "anime", "Chouchin Ressha", id="19003", type="Side Story")
    _add(root, "url", f"https://{a.key}.example.org/")
    creators = _add(root, "creators")
    _add(creators, "name", f"{DIRECTOR.family} {DIRECTOR.given}", id=str(DIRECTOR.anidb_id), type="Direction")
    _add(creators, "name", a.studios[0], id="5001", type="Animation Work")
    _add(root, "description", a.description_anidb)
    ratings = _add(root, "ratings")
    _add(ratings, "permanent", f"{a.scores.get('anidb', 0)}", count="420")
    _add(ratings, "temporary", "7.70", count="433")
    _add(root, "picture", f"{a.anidb_id}.jpg")
    tags = _add(root, "tags")
    _add(_add(tags, "tag", id="1", weight="600"), "name", a.genres[0].lower())
    _add(_add(tags, "tag", id="2", weight="0"), "name", "unweighted tag")
    characters = _add(root, "characters")
    for c in a.characters:
        kind = "main character in" if c.role == "Main" else "secondary cast in"
        node = _add(characters, "character", id=str(c.person.anidb_id), type=kind)
        _add(node, "name", f"{c.person.given} {c.person.family}")
        _add(node, "gender", "female")
        _add(node, "charactertype", "Character", id="1")
        _add(node, "description", c.description)
        _add(node, "picture", f"{c.person.anidb_id}.jpg")
        voice = c.voice
        _add(
            node,
            "seiyuu",
            f"{voice.given} {voice.family}",
            id=str(voice.anidb_id),
            picture=f"{voice.anidb_id}.jpg",
        )
    episodes = _add(root, "episodes")
    for e in a.episodes:
        node = _add(episodes, "episode", id=f"{a.anidb_id}{e.number:03d}", update="2024-02-01")
        _add(node, "epno", str(e.number), type="1")
        _add(node, "length", str(a.duration_min))
        _add(node, "airdate", jst_date(e))
        _add(node, "rating", "7.41", votes="12")
        _title(node, "en", None, e.title)
        _title(node, "ja", None, e.title_japanese)
        _title(node, "x-jat", None, e.title_romaji)
    special = _add(episodes, "episode", id=f"{a.anidb_id}900")
    _add(special, "epno", "S1", type="2")
    _add(special, "length", "5")
    _add(special, "airdate", a.start)
    _title(special, "en", None, "Special: Behind the Scenes")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(
        root, encoding="utf-8", xml_declaration=False
    )
