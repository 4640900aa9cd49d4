"""Tag text with the countries it mentions: names in English, French and Spanish, and aliases.

Text and names are compared after `countries.normalize` (case, accents and punctuation folded),
on whole words, so "Côte d'Ivoire", "Cote d'Ivoire" and "CÔTE D'IVOIRE" all give CI while
"Oman" does not match inside "woman".
"""

from __future__ import annotations

import re
from functools import cache

from outreach.core.countries import ALIASES, LANGUAGES, all_countries, normalize

# Short or ambiguous names that would tag too much ordinary text.
EXTRA_ALIASES = {
    "united states": "US",
    "usa": "US",
    "etats unis": "US",
    "estados unidos": "US",
    "royaume uni": "GB",
    "reino unido": "GB",
    "haiti": "HT",
    "cote divoire": "CI",
    "republique democratique du congo": "CD",
    "republica democratica del congo": "CD",
    "democratic republic of the congo": "CD",
    "south korea": "KR",
    "north korea": "KP",
    "coree du sud": "KR",
    "coree du nord": "KP",
    "corea del sur": "KR",
    "corea del norte": "KP",
    "syria": "SY",
    "syrie": "SY",
    "siria": "SY",
    "iran": "IR",
    "venezuela": "VE",
    "bolivia": "BO",
    "bolivie": "BO",
    "tanzania": "TZ",
    "tanzanie": "TZ",
    "vietnam": "VN",
    "viet nam": "VN",
    "laos": "LA",
    "moldova": "MD",
    "moldavie": "MD",
}
SKIPPED = {"uk", "drc", "rdc", "fyrom"}  # too short or too rare as words to be worth a tag


@cache
def _matcher() -> tuple[re.Pattern, dict[str, str]]:
    """One alternation of every normalised name, longest first (built once)."""
    names: dict[str, str] = {}
    for language in LANGUAGES:
        for code, name in all_countries(language):
            key = normalize(name)
            if len(key) > 3:
                names.setdefault(key, code)
    for alias, code in {**ALIASES, **EXTRA_ALIASES}.items():
        if alias not in SKIPPED:
            names.setdefault(normalize(alias), code)
    alternation = "|".join(re.escape(name) for name in sorted(names, key=len, reverse=True))
    return re.compile(rf"(?<![0-9a-z])(?:{alternation})(?![0-9a-z])"), names


def tag_countries(*texts: str) -> list[str]:
    """The alpha-2 codes of the countries `texts` mention, in order of first mention."""
    pattern, names = _matcher()
    found: dict[str, None] = {}
    for text in texts:
        plain = normalize(re.sub(r"<[^>]*>", " ", text or ""))
        for match in pattern.finditer(plain):
            found.setdefault(names[match.group(0)], None)
    return list(found)
