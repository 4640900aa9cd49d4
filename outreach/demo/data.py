"""Word lists for the demo registry. Every name is invented; every address is on example.org."""

from __future__ import annotations

DEMO_DOMAIN = "example.org"
DEMO_SESSIONS = (36, 50)
DEMO_CONTACT_COUNT = 300
DEMO_SEED = 20201102  # the first day of session 36's Working Group

TOPICS = (
    "women-rights",
    "children",
    "civic-space",
    "migration",
    "environment",
    "torture-prevention",
    "lgbti",
    "indigenous-peoples",
)

# Weights of the contact types among the demo stakeholders (missions are added one per State).
TYPE_WEIGHTS = {
    "ngo": 40,
    "nhri": 12,
    "permanent_mission": 4,
    "un_entity": 10,
    "regional_org": 8,
    "academic": 10,
    "media": 9,
    "other": 7,
}
STATUS_WEIGHTS = {"active": 92, "inactive": 6, "blocklisted": 2}

# The language organisations of a State use for their names; English where not listed.
MAIN_LANGUAGE = {"AD": "fr", "HN": "es", "PA": "es"}

# UN member States whose mission would write to us in French or Spanish.
FRANCOPHONE = frozenset({
    "BE", "BF", "BI", "BJ", "CD", "CF", "CG", "CH", "CI", "CM", "DJ", "DZ", "FR", "GA", "GN", "HT",
    "KM", "LB", "LU", "MA", "MC", "MG", "ML", "MR", "NE", "RW", "SC", "SN", "TD", "TG", "TN",
})
HISPANOPHONE = frozenset({
    "AR", "BO", "CL", "CO", "CR", "CU", "DO", "EC", "ES", "GQ", "GT", "HN", "MX", "NI", "PA", "PE",
    "PY", "SV", "UY", "VE",
})

FIRST_NAMES = {
    "en": (
        "Alice", "Ben", "Chloe", "Daniel", "Emma", "Farid", "Grace", "Henry", "Ines", "Jack",
        "Kofi", "Lena", "Marta", "Nadia", "Oleg", "Priya", "Quentin", "Rosa", "Samuel", "Tenzin",
        "Uma", "Victor", "Wanjiru", "Yusuf", "Zara",
    ),
    "fr": (
        "Amélie", "Bastien", "Camille", "Denis", "Élodie", "Fatou", "Gaëlle", "Hugo", "Isabelle",
        "Jean", "Léa", "Mathieu", "Nathalie", "Olivier", "Pascale", "Raphaël", "Sophie", "Thierry",
        "Yves", "Aïssata",
    ),
    "es": (
        "Ana", "Bruno", "Camila", "Diego", "Elena", "Fernando", "Gabriela", "Hugo", "Isabel",
        "Javier", "Lucía", "Mateo", "Natalia", "Óscar", "Paula", "Ramón", "Sofía", "Tomás",
        "Valentina", "Ximena",
    ),
}
LAST_NAMES = {
    "en": (
        "Abbott", "Banda", "Carter", "Dimitrova", "Evans", "Fletcher", "Gantulga", "Horvat",
        "Ibrahim", "Johnson", "Kowalski", "Lindqvist", "Mensah", "Novak", "Okafor", "Petrov",
        "Quinn", "Rahman", "Sato", "Thompson", "Usman", "Varga", "Whitfield", "Yilmaz", "Zhou",
    ),
    "fr": (
        "Arnaud", "Bernard", "Chevalier", "Diallo", "Dubois", "Fontaine", "Girard", "Lambert",
        "Lefèvre", "Mercier", "Moreau", "Perrin", "Rousseau", "Traoré", "Vasseur", "Zéphir",
    ),
    "es": (
        "Álvarez", "Castillo", "Domínguez", "Estrada", "Fuentes", "García", "Herrera", "Ibáñez",
        "Jiménez", "López", "Morales", "Navarro", "Ortega", "Rojas", "Salazar", "Vargas",
    ),
}

ROLE_TITLES = {
    "ngo": ("Executive Director", "Advocacy Officer", "Programme Coordinator", "UPR Focal Point",
            "Legal Adviser"),
    "nhri": ("Commissioner", "International Relations Officer", "Head of Research"),
    "permanent_mission": ("First Secretary (Human Rights)", "Human Rights Attaché", "Counsellor"),
    "un_entity": ("Human Rights Officer", "Human Rights Adviser"),
    "regional_org": ("Programme Officer", "Legal Officer"),
    "academic": ("Professor of International Law", "Researcher", "Human Rights Clinic Director"),
    "media": ("Correspondent", "Editor", "Freelance Journalist"),
    "other": ("Consultant", "Foundation Programme Manager"),
}
MISSION_ROLE = "Human rights focal point"

# Organisation names by type and language; {country} is the State's name in that language.
ORGANISATION_NAMES = {
    "ngo": {
        "en": ("Fictional Rights Watch {country}", "Imaginary Women's Network {country}",
               "Make-Believe Children First {country}"),
        "fr": ("Ligue fictive des droits humains ({country})",
               "Réseau imaginaire des femmes ({country})",
               "Collectif inventé pour l'enfance ({country})"),
        "es": ("Observatorio Ficticio de Derechos Humanos ({country})",
               "Red Imaginaria de Mujeres ({country})",
               "Colectivo Inventado por la Niñez ({country})"),
    },
    "nhri": {
        "en": ("Fictional Human Rights Commission of {country}",),
        "fr": ("Commission nationale fictive des droits de l'homme ({country})",),
        "es": ("Defensoría Ficticia del Pueblo ({country})",),
    },
    "un_entity": {
        "en": ("Imaginary UN Country Team {country}", "Fictional OHCHR Field Presence {country}"),
        "fr": ("Équipe de pays imaginaire des Nations Unies ({country})",),
        "es": ("Equipo de País Imaginario de la ONU ({country})",),
    },
    "academic": {
        "en": ("Fictional University of {country} Human Rights Centre",),
        "fr": ("Centre des droits humains, Université fictive ({country})",),
        "es": ("Centro de Derechos Humanos, Universidad Ficticia ({country})",),
    },
    "media": {
        "en": ("The Imaginary {country} Herald",),
        "fr": ("Le Quotidien imaginaire ({country})",),
        "es": ("El Diario Imaginario ({country})",),
    },
    "other": {
        "en": ("Pretend Foundation for {country}",),
        "fr": ("Fondation fictive ({country})",),
        "es": ("Fundación Ficticia ({country})",),
    },
}
# Geneva-based organisations working on several States.
INTERNATIONAL_NGOS = (
    "Fictional Geneva Rights Alliance",
    "Imaginary International Justice Network",
    "Pretend Global Voices for Children",
)
REGIONAL_ORGANISATIONS = {
    "europe": "Fictional European Rights Office",
    "americas": "Imaginary Inter-American Rights Desk",
    "africa": "Pretend African Rights Secretariat",
    "asia_pacific": "Make-Believe Asia-Pacific Rights Forum",
}
REGIONS = {
    "AD": "europe", "BG": "europe", "BY": "europe", "HR": "europe",
    "HN": "americas", "JM": "americas", "PA": "americas", "US": "americas",
    "LR": "africa", "LY": "africa", "MW": "africa",
    "MH": "asia_pacific", "MN": "asia_pacific", "MV": "asia_pacific",
}

# Official names that read better with an article: "Permanent Mission of the Netherlands".
NAMES_WITH_ARTICLE_PREFIXES = (
    "Bahamas", "Central African", "Comoros", "Congo", "Democratic", "Dominican",
    "Federated", "Gambia", "Islamic", "Lao", "Maldives", "Marshall", "Netherlands", "Niger",
    "Philippines", "Plurinational", "Republic", "Russian", "Solomon", "Sudan", "Syrian",
    "United", "Bolivarian",
)
NAMES_WITHOUT_ARTICLE = frozenset({"Nigeria"})

DEMO_SEGMENTS = (
    {
        "name": "Session 50 States - NGOs and NHRIs",
        "description": "Active NGOs and NHRIs working on a State reviewed in session 50.",
        "filters": {"types": ["ngo", "nhri"], "session_under_review": 50, "statuses": ["active"]},
    },
    {
        "name": "Permanent missions",
        "description": "Every active permanent mission contact.",
        "filters": {"types": ["permanent_mission"], "statuses": ["active"]},
    },
    {
        "name": "French speakers",
        "description": "Active contacts who read French.",
        "filters": {"languages": ["fr"], "statuses": ["active"]},
    },
)

# News sources served by the app itself (outreach/static/demo/feeds), so the demo works offline.
DEMO_FEEDS = (
    {"name": "Human Rights News (demo)", "file": "human-rights-news-en.xml", "language": "en"},
    {"name": "Actualités des droits humains (démo)", "file": "actualites-fr.xml", "language": "fr"},
    {"name": "Noticias de derechos humanos (demo)", "file": "noticias-es.xml", "language": "es"},
)
DEMO_FEED_POLL_MINUTES = 5
