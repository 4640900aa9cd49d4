"""Country names and ISO 3166-1 alpha-2 codes (via pycountry), in English, French and Spanish."""

from __future__ import annotations

import gettext
import re
import unicodedata
from collections import defaultdict
from functools import cache

import pycountry

LANGUAGES = ("en", "fr", "es")

# Normalised name -> alpha-2 code, for names the pycountry catalogs do not carry.
ALIASES = {
    "uk": "GB",
    "great britain": "GB",
    "britain": "GB",
    "turkey": "TR",
    "ivory coast": "CI",
    "russia": "RU",
    "russie": "RU",
    "rusia": "RU",
    "swaziland": "SZ",
    "cape verde": "CV",
    "macedonia": "MK",
    "fyrom": "MK",
    "drc": "CD",
    "dr congo": "CD",
    "rdc": "CD",
    "congo kinshasa": "CD",
    "congo brazzaville": "CG",
    "congo republic of": "CG",
    "brunei": "BN",
    "vatican": "VA",
    "vatican city": "VA",
    "vatican city state": "VA",
    "east timor": "TL",
    "burma": "MM",
    "bielorussie": "BY",
    "micronesia": "FM",
    "palestine": "PS",
}


def normalize(value: str) -> str:
    """Fold case, accents, punctuation, "the" and spacing so that name variants compare equal."""
    text = unicodedata.normalize("NFKD", value)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = re.sub("[.'`\u2019\u02bc\u00b4]", "", text).replace("&", " and ")  # dots, apostrophes
    words = re.sub(r"[^0-9a-z]+", " ", text).split()
    return " ".join("saint" if word == "st" else word for word in words if word != "the")


@cache
def _translator(language: str) -> gettext.NullTranslations:
    if language == "en":
        return gettext.NullTranslations()
    return gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[language])


def _language(language: str) -> str:
    base = (language or "en").replace("-", "_").split("_")[0].lower()
    return base if base in LANGUAGES else "en"


def _variants(name: str) -> tuple[list[str], str | None]:
    """Return exact spellings of a catalog name, and its head before a comma (e.g. "Bolivia")."""
    plain = re.sub(r"\s*\([^)]*\)", "", name).strip()
    names = [name, plain]
    head = None
    if "," in plain:
        head, _, tail = plain.partition(",")
        # "Korea, Republic of" -> "Republic of Korea"
        names.append(f"{tail.strip()} {head.strip()}")
    return names, head


@cache
def _lookup() -> dict[str, str]:
    """Build the normalised name -> code table (once, on first use)."""
    table: dict[str, str] = {}
    heads: defaultdict[str, set[str]] = defaultdict(set)
    for language in LANGUAGES:
        translate = _translator(language).gettext
        for country in pycountry.countries:
            for attr in ("name", "official_name", "common_name"):
                source = getattr(country, attr, None)
                if not source:
                    continue
                names, head = _variants(translate(source))
                for name in names:
                    table.setdefault(normalize(name), country.alpha_2)
                if head:
                    heads[normalize(head)].add(country.alpha_2)
    for head, codes in heads.items():
        if len(codes) == 1:  # "Korea" or "Virgin Islands" stay ambiguous
            table.setdefault(head, codes.pop())
    table.update(ALIASES)
    return table


def is_country_code(code: object) -> bool:
    """True if `code` is an ISO 3166-1 alpha-2 code (any case)."""
    return (
        isinstance(code, str)
        and len(code) == 2
        and pycountry.countries.get(alpha_2=code.upper()) is not None
    )


def resolve_country(value: str) -> str | None:
    """Return the alpha-2 code for a code, alpha-3 code, name or alias in en/fr/es, else None."""
    if not isinstance(value, str):
        return None
    if is_country_code(value.strip()):  # before normalising: "ST" is not "Saint"
        return value.strip().upper()
    key = normalize(value)
    compact = key.replace(" ", "").upper()  # "U.S.A." -> "USA"
    if is_country_code(compact):
        return compact
    if len(compact) == 3 and (country := pycountry.countries.get(alpha_3=compact)):
        return country.alpha_2
    return _lookup().get(key) if key else None


def country_name(code: str, language: str = "en") -> str:
    """Display name for an alpha-2 code in en/fr/es; unknown codes are returned unchanged."""
    country = pycountry.countries.get(alpha_2=code.upper()) if is_country_code(code) else None
    if country is None:
        return code
    name = getattr(country, "common_name", None) or country.name
    language = _language(language)
    if language == "en":
        return name
    return _translator(language).gettext(name)


def sort_key(text: str) -> str:
    """Locale-independent sort key that ignores case and accents."""
    return normalize(text)


def all_countries(language: str = "en") -> list[tuple[str, str]]:
    """All ISO 3166-1 countries as (code, name), sorted by the localised name."""
    pairs = [(c.alpha_2, country_name(c.alpha_2, language)) for c in pycountry.countries]
    return sorted(pairs, key=lambda pair: (sort_key(pair[1]), pair[1]))


def _resolve_commas(part: str, codes: list[str], unknown: list[str]) -> None:
    """Resolve comma-separated pieces, joining neighbours for names like "Korea, Republic of"."""
    pieces = [piece.strip() for piece in part.split(",")]
    i = 0
    while i < len(pieces):
        for j in range(min(len(pieces), i + 3), i, -1):
            code = resolve_country(", ".join(pieces[i:j]))
            if code:
                codes.append(code)
                i = j
                break
        else:
            if pieces[i]:
                unknown.append(pieces[i])
            i += 1


def parse_country_list(value: str) -> tuple[list[str], list[str]]:
    """Split on ";", "|", newlines or "," and return (codes, unrecognised parts)."""
    codes: list[str] = []
    unknown: list[str] = []
    for part in re.split(r"[;|\n]", value or ""):
        part = part.strip()
        if not part:
            continue
        code = resolve_country(part)
        if code:
            codes.append(code)
        elif "," in part:
            _resolve_commas(part, codes, unknown)
        else:
            unknown.append(part)
    return list(dict.fromkeys(codes)), unknown
