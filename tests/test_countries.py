"""Tests for outreach.core.countries."""

import pytest

from outreach.core.countries import (
    all_countries,
    country_name,
    is_country_code,
    parse_country_list,
    resolve_country,
)

# code -> "|"-separated spellings that must resolve to it.
CASES = {
    "CH": "ch|CH| Ch |CHE|che|Switzerland|Suisse|Suiza",
    "TR": "Turkiye|Türkiye|Turkey|TUR|Turquie|Turquía|Republic of Türkiye",
    "CI": "Cote d'Ivoire|Côte d\u2019Ivoire|Côte d'Ivoire|cote divoire|Ivory Coast|Costa de Marfil",
    "US": (
        "USA|US|U.S.A.|United States|United States of America|États-Unis|Etats Unis|Estados Unidos"
    ),
    "GB": (
        "UK|United Kingdom|Royaume-Uni|Reino Unido|Great Britain|"
        "United Kingdom of Great Britain and Northern Ireland"
    ),
    "RU": "Russia|Russian Federation|Fédération de Russie|Rusia",
    "IR": "Iran|Islamic Republic of Iran|Iran, Islamic Republic of|Irán",
    "SY": "Syria|Syrian Arab Republic|Syrie|Siria",
    "BO": "Bolivia|Bolivie|Plurinational State of Bolivia",
    "VE": "Venezuela|Vénézuela|Bolivarian Republic of Venezuela",
    "VN": "Viet Nam|Vietnam|Viêt Nam",
    "LA": "Laos|Lao People's Democratic Republic|Lao People\u2019s Democratic Republic",
    "KP": (
        "North Korea|Democratic People's Republic of Korea|Corée du Nord|"
        "Korea, Democratic People's Republic of"
    ),
    "KR": "South Korea|Republic of Korea|Korea, Republic of|Corée du Sud|Corea del Sur",
    "MD": "Moldova|Republic of Moldova|Moldavie|Moldavia",
    "TZ": "Tanzania|United Republic of Tanzania|Tanzanie",
    "FM": "Micronesia|Federated States of Micronesia|Micronésie",
    "CZ": "Czech Republic|Czechia|Tchéquie|Chequia",
    "SZ": "Swaziland|Eswatini|Esuatini",
    "CV": "Cape Verde|Cabo Verde|Cap-Vert",
    "MK": "Macedonia|North Macedonia|Macédoine du Nord|Macedonia del Norte",
    "PS": "Palestine|State of Palestine|Palestine, État de",
    "CD": (
        "DRC|DR Congo|Democratic Republic of the Congo|Congo (Kinshasa)|"
        "République démocratique du Congo|República Democrática del Congo"
    ),
    "CG": "Congo|Congo, Republic of the|Republic of the Congo|République du Congo|COG",
    "BN": "Brunei|Brunei Darussalam|Brunéi",
    "VA": "Holy See|Vatican|Saint-Siège|Holy See (Vatican City State)",
    "TL": "East Timor|Timor-Leste|Timor Leste",
    "MM": "Burma|Myanmar|Birmanie",
    "ST": "Sao Tome and Principe|São Tomé and Príncipe|Sao Tomé-et-Principe",
    "KN": "Saint Kitts and Nevis|St. Kitts & Nevis|Saint-Christophe-et-Niévès",
    "VC": "Saint Vincent and the Grenadines|St Vincent and Grenadines",
    "BY": "Biélorussie|Bélarus|Belarus|Bielorrusia",
    "MH": "Îles Marshall|Marshall Islands|Islas Marshall",
    "AD": "Andorre|Andorra",
    "JM": "Jamaïque|Jamaica",
    "LR": "Libéria|Liberia",
    "LY": "Libye|Libya",
    "MN": "Mongolie|Mongolia",
    "BG": "Bulgarie|Bulgaria",
    "HR": "Croatie|Croatia|Croacia",
    "GM": "Gambia|The Gambia|Gambie",
    "TW": "Taiwan|Taïwan",
}


@pytest.mark.parametrize(
    ("value", "code"),
    [(value, code) for code, values in CASES.items() for value in values.split("|")],
)
def test_resolve_country(value, code):
    assert resolve_country(value) == code


# Every State named in /work/shared/domain/UPR.md (sessions 36 and 41-54).
UPR_STATES = """
Andorra; Belarus; Bulgaria; Croatia; Honduras; Jamaica; Liberia; Libya; Malawi; Maldives;
Marshall Islands; Mongolia; Panama; United States of America; Bahrain; Ecuador; Tunisia; Morocco;
Indonesia; Finland; United Kingdom; India; Algeria; Philippines; Brazil; Poland; Netherlands;
South Africa; Czechia; Argentina; Gabon; Ghana; Peru; Guatemala; Benin; Republic of Korea;
Switzerland; Pakistan; Zambia; Japan; Sri Lanka; France; Tonga; Romania; Mali; Botswana; Bahamas;
Burundi; Luxembourg; Barbados; Montenegro; United Arab Emirates; Israel; Liechtenstein; Serbia;
Turkmenistan; Burkina Faso; Cabo Verde; Colombia; Uzbekistan; Tuvalu; Germany; Djibouti; Canada;
Bangladesh; Russian Federation; Azerbaijan; Cameroon; Cuba; Saudi Arabia; Senegal; China; Nigeria;
Mexico; Mauritius; Jordan; Malaysia; Central African Republic; Monaco; Belize; Chad; Congo; Malta;
New Zealand; Afghanistan; Chile; Cyprus; Uruguay; Yemen; Vanuatu; North Macedonia; Comoros;
Slovakia; Eritrea; Viet Nam; Dominican Republic; Cambodia; Norway; Albania;
Democratic Republic of the Congo; Cote d'Ivoire; Portugal; Bhutan; Dominica;
Democratic People's Republic of Korea; Brunei Darussalam; Costa Rica; Equatorial Guinea; Ethiopia;
Qatar; Nicaragua; Italy; El Salvador; Gambia; Bolivia; Fiji; San Marino; Kazakhstan; Angola; Iran;
Madagascar; Iraq; Slovenia; Egypt; Bosnia and Herzegovina; Armenia; Grenada; Guinea;
Guinea-Bissau; Guyana; Kenya; Kiribati; Kuwait; Kyrgyzstan; Lao People's Democratic Republic;
Lesotho; Spain; Sweden; Turkiye; Australia; Austria; Georgia; Lebanon; Mauritania; Micronesia;
Nauru; Nepal; Oman; Rwanda; Saint Kitts and Nevis; Saint Lucia; Sao Tome and Principe; Myanmar;
Namibia; Niger; Mozambique; Estonia; Belgium; Paraguay; Denmark; Somalia; Palau; Solomon Islands;
Seychelles; Latvia; Singapore; Sierra Leone; Greece; Samoa; Suriname; Hungary;
Saint Vincent and the Grenadines; Tajikistan; Papua New Guinea; United Republic of Tanzania;
Eswatini; Antigua and Barbuda; Trinidad and Tobago; Thailand; Ireland; Togo; Syrian Arab Republic;
Iceland; Venezuela; Zimbabwe; Lithuania; Uganda; Timor-Leste; Republic of Moldova; South Sudan;
Haiti; Sudan
"""


@pytest.mark.parametrize("name", [n.strip() for n in UPR_STATES.split(";")])
def test_every_upr_state_resolves(name):
    assert resolve_country(name) is not None, name


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("Niger", "NE"),
        ("Nigeria", "NG"),
        ("Guinea", "GN"),
        ("Guinea-Bissau", "GW"),
        ("Equatorial Guinea", "GQ"),
        ("Sudan", "SD"),
        ("South Sudan", "SS"),
        ("Dominica", "DM"),
        ("Dominican Republic", "DO"),
        ("Georgia", "GE"),
        ("Micronesia", "FM"),
    ],
)
def test_similar_names_are_not_confused(name, code):
    assert resolve_country(name) == code


@pytest.mark.parametrize(
    "value", ["", "   ", "Atlantis", "XX", "ZZZ", "Korea", "Virgin Islands", "Europe", None]
)
def test_unknown_values(value):
    assert resolve_country(value) is None


@pytest.mark.parametrize(
    ("code", "language", "name"),
    [
        ("CH", "en", "Switzerland"),
        ("CH", "fr", "Suisse"),
        ("CH", "es", "Suiza"),
        ("TR", "en", "Türkiye"),
        ("TR", "fr", "Turquie"),
        ("TR", "es", "Turquía"),
        ("US", "fr", "États-Unis"),
        ("GB", "es", "Reino Unido"),
        ("BO", "en", "Bolivia"),
        ("IR", "en", "Iran"),
        ("TW", "en", "Taiwan"),
        ("KR", "en", "South Korea"),
        ("CI", "en", "Côte d'Ivoire"),
        ("ch", "fr", "Suisse"),
        ("DE", "fr_CH", "Allemagne"),
        ("DE", "xx", "Germany"),
    ],
)
def test_country_name(code, language, name):
    assert country_name(code, language) == name


@pytest.mark.parametrize("code", ["XX", "", "Atlantis"])
def test_country_name_unknown_returns_code(code):
    assert country_name(code) == code
    assert country_name(code, "fr") == code


def test_is_country_code():
    assert is_country_code("CH")
    assert is_country_code("fm")
    assert not is_country_code("UK")
    assert not is_country_code("CHE")
    assert not is_country_code("")
    assert not is_country_code(None)


@pytest.mark.parametrize("language", ["en", "fr", "es"])
def test_all_countries(language):
    countries = all_countries(language)
    codes = [code for code, _ in countries]
    assert len(countries) == 249
    assert len(set(codes)) == 249
    assert all(is_country_code(code) for code in codes)
    assert ("CH", country_name("CH", language)) in countries


def test_all_countries_sort_ignores_accents():
    names = [name for _, name in all_countries("fr")]
    # "Égypte" sorts among the E's, not after "Zimbabwe".
    assert names.index("Égypte") < names.index("Érythrée") < names.index("Espagne")
    assert names.index("Égypte") > names.index("Dominique")
    assert names[0].startswith("Af")


@pytest.mark.parametrize(
    ("value", "codes", "unknown"),
    [
        ("", [], []),
        ("CH", ["CH"], []),
        ("France; Germany | Italy", ["FR", "DE", "IT"], []),
        ("France, Germany, Italy", ["FR", "DE", "IT"], []),
        ("Korea, Republic of", ["KR"], []),
        ("France, Korea, Republic of, Germany", ["FR", "KR", "DE"], []),
        ("Iran, Islamic Republic of; Congo, The Democratic Republic of the", ["IR", "CD"], []),
        ("Suisse; Switzerland, CH | che", ["CH"], []),
        ("Türkiye; Atlantis, Ivory Coast;;", ["TR", "CI"], ["Atlantis"]),
        ("Narnia | Mordor", [], ["Narnia", "Mordor"]),
        ("États-Unis, Royaume-Uni", ["US", "GB"], []),
    ],
)
def test_parse_country_list(value, codes, unknown):
    assert parse_country_list(value) == (codes, unknown)


def test_two_letter_codes_win_over_abbreviations():
    assert resolve_country("ST") == "ST"
    assert resolve_country(" st ") == "ST"
    assert resolve_country("St Lucia") == "LC"
