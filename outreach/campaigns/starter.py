"""The "pre-session invitation" starter: a draft campaign written from the calendar.

Subject and Markdown body in English, French and Spanish, with the session's States, the
pre-session dates and the registration deadline (estimated dates say so); the audience is the
permanent missions of all States plus the NGOs and NHRIs working on the States under review (two
segments, created the first time and reused afterwards). Staff review and edit the text before
sending; nothing here is a merge field, so what they see is what is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from babel.dates import format_date
from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outreach.calendar.models import KeyDate, UPRSession
from outreach.campaigns import merge
from outreach.campaigns.models import Campaign
from outreach.campaigns.services import CampaignData, VariantData, create_campaign, default_sender
from outreach.segments.models import Segment
from outreach.segments.services import create_segment

MISSIONS_SEGMENT = "Permanent missions (all States)"
LANGUAGES = ("en", "fr", "es")
ESTIMATED = {"en": " (estimated date)", "fr": " (date estimée)", "es": " (fecha estimada)"}
PLACES = {"Geneva": {"fr": "Genève", "es": "Ginebra"}}


def ngo_segment_name(number: int) -> str:
    return f"Session {number} — NGOs and NHRIs working on the States under review"


def ordinal(number: int, language: str) -> str:
    if language == "fr":
        return f"{number}e" if number != 1 else "1re"
    if language == "es":
        return f"{number}.ª"
    if 10 <= number % 100 <= 20:
        return f"{number}th"
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def month(value: date, language: str) -> str:
    pattern = "MMMM 'de' y" if language == "es" else "MMMM y"
    return format_date(value, pattern, locale=language)


def _key_date(upr_session: UPRSession, kind: str) -> KeyDate | None:
    """The session-wide key date of `kind`, else the earliest one of a State."""
    dates = [kd for kd in upr_session.key_dates if kd.kind == kind]
    session_wide = [kd for kd in dates if kd.review_id is None]
    return (session_wide or dates or [None])[0]


@dataclass
class Facts:
    """What the invitation says, in one language."""

    language: str
    organisation: str
    number: str
    month: str
    place: str
    dates: str  # "31 March – 3 April 2020 (estimated date)"
    first_day: str  # "31 March" (empty without dates, or for a one-day event)
    last_day: str  # "3 April 2020 (estimated date)", or the only day
    deadline: str
    url: str
    states: str
    projected: bool


def facts(upr_session: UPRSession, language: str) -> Facts:
    pre = _key_date(upr_session, "pre_session")
    application = _key_date(upr_session, "pre_session_application")
    dates = first_day = last_day = ""
    if pre is not None:
        estimated = ESTIMATED[language] if pre.estimated else ""
        dates = merge.day_range(pre.starts_at, pre.ends_at, language) + estimated
        first, last = merge.range_parts(pre.starts_at, pre.ends_at, language)
        first_day, last_day = (first, last + estimated) if last else ("", first + estimated)
    deadline = ""
    if application is not None:
        deadline = merge.key_date_text(application, language)
        deadline += ESTIMATED[language] if application.estimated else ""
    url = next((kd.url for kd in (application, pre) if kd is not None and kd.url), "")
    location = upr_session.location or "Geneva"
    return Facts(
        language=language,
        organisation=current_app.config["ORGANISATION_NAME"],
        number=ordinal(upr_session.number, language),
        month=month(upr_session.wg_start, language) if upr_session.wg_start else "",
        place=PLACES.get(location, {}).get(language, location),
        dates=dates,
        first_day=first_day,
        last_day=last_day,
        deadline=deadline,
        url=url,
        states="; ".join(merge.session_fields(upr_session, language).states),
        projected=upr_session.is_projected,
    )


def subject(f: Facts) -> str:
    when = f" ({f.dates})" if f.dates else ""
    return {
        "en": f"Invitation: pre-sessions of the {f.number} UPR session{when}",
        "fr": f"Invitation : pré-sessions de la {f.number} session de l'EPU{when}",
        "es": f"Invitación: presesiones de la {f.number} sesión del EPU{when}",
    }[f.language]


def body(f: Facts) -> str:
    return {"en": _body_en, "fr": _body_fr, "es": _body_es}[f.language](f)


def _body_en(f: Facts) -> str:
    month_text = f" ({f.month})" if f.month else ""
    when = f"**{f.dates}**" if f.dates else "on dates still to be announced"
    projected = (
        "\n\n*The dates and States of this session are not confirmed yet.*" if f.projected else ""
    )
    deadline = (
        f"The registration deadline is **{f.deadline}**."
        if f.deadline else "The registration deadline will be announced soon."
    )
    more = f" [More information and registration]({f.url})" if f.url else ""
    return f"""{f.organisation} organises the **pre-sessions** of the {f.number} session of the \
Universal Periodic Review{month_text} {when}, in {f.place}.{projected}

## Objectives

The pre-sessions give civil society organisations the opportunity to inform the permanent missions \
about the human rights situation in their countries. They allow **civil society organisations \
(CSOs) and national human rights institutions (NHRIs) to save time by engaging directly with many \
States** before the review, so that their concerns and recommendations are taken into account \
during the UPR.

## Format

The pre-sessions are meetings held about a month before a UPR session to discuss the human rights \
situation in the States under review. Each pre-session **lasts one hour**. Each civil society \
speaker has **5 to 7 minutes** to present their assessment of implementation, analysis and \
recommendations, as well as the progress made since the last review of the country.

In keeping with **the principles of universality and transparency**, all permanent missions are \
invited, including that of the State under review.

## States under review

Pre-sessions will be held on the following States: {f.states or "to be announced"}.

## Expected outcomes

The pre-sessions are an exchange of precise and detailed information on the human rights \
situation in the countries under review. States receive **up-to-date information, in-depth \
questions and suggested recommendations for the {f.number} session of the UPR**, reflecting the \
reality and the concerns of people on the ground.

## How to take part

{deadline}{more}

## Who is {f.organisation}?

{f.organisation} works to strengthen the Universal Periodic Review and to help all its \
stakeholders (UN Member States, NGOs, national human rights institutions and civil society as a \
whole) take part in it.
"""


def _body_fr(f: Facts) -> str:
    month_text = f" ({f.month})" if f.month else ""
    if f.first_day:
        when = f"**du {f.first_day} au {f.last_day}**"
    elif f.last_day:
        when = f"**le {f.last_day}**"
    else:
        when = "à des dates à annoncer"
    projected = (
        "\n\n*Les dates et les États de cette session ne sont pas encore confirmés.*"
        if f.projected else ""
    )
    deadline = (
        f"La date limite d'inscription est le **{f.deadline}**."
        if f.deadline else "La date limite d'inscription sera annoncée prochainement."
    )
    more = f" [Informations et inscription]({f.url})" if f.url else ""
    return f"""{f.organisation} organise les **pré-sessions** de la {f.number} session de l'Examen \
périodique universel{month_text} {when}, à {f.place}.{projected}

## Objectifs

Les pré-sessions offrent aux organisations de la société civile l'occasion d'informer les \
représentants des missions permanentes sur la situation des droits humains dans leurs pays. Elles \
permettent **aux organisations de la société civile (OSC) et aux institutions nationales des \
droits de l'homme (INDH) d'économiser du temps en s'adressant directement à de nombreux États** \
avant l'examen, afin que leurs préoccupations et recommandations soient prises en considération \
lors de l'EPU.

## Format

Les pré-sessions sont des rencontres organisées environ un mois avant une session de l'EPU pour \
discuter de la situation des droits humains dans les États examinés. Chaque pré-session **dure une \
heure**. Chaque intervenant de la société civile dispose **de 5 à 7 minutes** pour présenter son \
bilan de mise en œuvre, son analyse et ses recommandations, ainsi que les progrès enregistrés \
depuis le dernier examen du pays.

Conformément aux **principes d'universalité et de transparence**, toutes les missions permanentes \
sont invitées, y compris celle de l'État examiné.

## États examinés

Des pré-sessions seront organisées sur les États suivants : {f.states or "à annoncer"}.

## Résultats escomptés

Les pré-sessions permettent un échange d'informations précises et détaillées sur la situation des \
droits humains dans les pays examinés. Les États reçoivent **des informations actualisées, des \
questions approfondies et des suggestions de recommandations pour la {f.number} session de \
l'EPU**, qui reflètent la réalité et les préoccupations des personnes sur le terrain.

## Comment participer

{deadline}{more}

## Qui est {f.organisation} ?

{f.organisation} œuvre à renforcer l'Examen périodique universel et à aider toutes ses parties \
prenantes (États membres des Nations Unies, ONG, institutions nationales des droits de l'homme et \
société civile dans son ensemble) à y participer.
"""


def _body_es(f: Facts) -> str:
    month_text = f" ({f.month})" if f.month else ""
    if f.first_day:
        when = f"**del {f.first_day} al {f.last_day}**"
    elif f.last_day:
        when = f"**el {f.last_day}**"
    else:
        when = "en fechas por anunciar"
    projected = (
        "\n\n*Las fechas y los Estados de esta sesión aún no están confirmados.*"
        if f.projected else ""
    )
    deadline = (
        f"El plazo de inscripción vence el **{f.deadline}**."
        if f.deadline else "El plazo de inscripción se anunciará próximamente."
    )
    more = f" [Información e inscripción]({f.url})" if f.url else ""
    return f"""{f.organisation} organiza las **presesiones** de la {f.number} sesión del Examen \
Periódico Universal{month_text} {when}, en {f.place}.{projected}

## Objetivos

Las presesiones ofrecen a las organizaciones de la sociedad civil la oportunidad de informar a las \
misiones permanentes sobre la situación de los derechos humanos en sus países. Permiten a **las \
organizaciones de la sociedad civil (OSC) y a las instituciones nacionales de derechos humanos \
(INDH) ahorrar tiempo dirigiéndose directamente a numerosos Estados** antes del examen, para que \
sus preocupaciones y recomendaciones se tengan en cuenta durante el EPU.

## Formato

Las presesiones son reuniones que se celebran aproximadamente un mes antes de una sesión del EPU \
para debatir la situación de los derechos humanos en los Estados examinados. Cada presesión **dura \
una hora**. Cada orador de la sociedad civil dispone **de 5 a 7 minutos** para presentar su \
balance de la aplicación, su análisis y sus recomendaciones, así como los avances logrados desde \
el último examen del país.

De acuerdo con **los principios de universalidad y transparencia**, se invita a todas las misiones \
permanentes, incluida la del Estado examinado.

## Estados examinados

Se celebrarán presesiones sobre los siguientes Estados: {f.states or "por anunciar"}.

## Resultados esperados

Las presesiones permiten un intercambio de información precisa y detallada sobre la situación de \
los derechos humanos en los países examinados. Los Estados reciben **información actualizada, \
preguntas detalladas y sugerencias de recomendaciones para la {f.number} sesión del EPU**, que \
reflejan la realidad y las preocupaciones de las personas sobre el terreno.

## Cómo participar

{deadline}{more}

## ¿Quién es {f.organisation}?

{f.organisation} trabaja para reforzar el Examen Periódico Universal y ayudar a todas sus partes \
interesadas (Estados miembros de las Naciones Unidas, ONG, instituciones nacionales de derechos \
humanos y la sociedad civil en su conjunto) a participar en él.
"""


def ensure_segment(session: Session, name: str, filters: dict, description: str) -> Segment:
    """The segment named `name` (any case), created with `filters` if there is none."""
    existing = session.scalar(select(Segment).where(func.lower(Segment.name) == name.lower()))
    return existing or create_segment(session, name, filters, description)


def audience_segments(session: Session, upr_session: UPRSession) -> list[Segment]:
    number = upr_session.number
    return [
        ensure_segment(
            session,
            MISSIONS_SEGMENT,
            {"types": ["permanent_mission"]},
            "The permanent missions of every State (pre-session invitations).",
        ),
        ensure_segment(
            session,
            ngo_segment_name(number),
            {"types": ["ngo", "nhri"], "session_under_review": number},
            f"NGOs and NHRIs working on a State reviewed in UPR session {number}.",
        ),
    ]


def pre_session_data(session: Session, upr_session: UPRSession) -> CampaignData:
    sender_name, sender_email = default_sender()
    variants = []
    for language in LANGUAGES:
        f = facts(upr_session, language)
        variants.append(VariantData(language, subject(f), body(f)))
    return CampaignData(
        name=f"Pre-session invitation — session {upr_session.number}",
        topic="pre_session",
        sender_name=sender_name,
        sender_email=sender_email,
        default_language="en",
        session_id=upr_session.id,
        segment_ids=[segment.id for segment in audience_segments(session, upr_session)],
        variants=variants,
    )


def create_pre_session_campaign(session: Session, upr_session: UPRSession, user=None) -> Campaign:
    return create_campaign(session, pre_session_data(session, upr_session), user=user)
