"""Public subscription pages (no login) in English, French and Spanish.

`/<lang>/...` pages take their language from the URL; bare `/subscribe` redirects to the browser's
language. `/u/<token>` is the List-Unsubscribe address of every campaign message: its page is in the
contact's language, and a POST whose body is `List-Unsubscribe=One-Click` (RFC 8058) unsubscribes at
once, without CSRF token or cookie. State changes are POSTs, because mail scanners fetch links.
An IntegrityError means that a concurrent request (a double click) did the same thing first.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_date, get_locale, gettext, refresh
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

from outreach.contacts.models import Contact
from outreach.core import tokens
from outreach.core.errors import ServiceError
from outreach.core.timezones import to_local
from outreach.extensions import csrf, db, limiter
from outreach.i18n import LANGUAGE_NAMES, browser_language
from outreach.mail.transactional import queue_after_commit
from outreach.ops.caching import cached_public_page, same_origin_post
from outreach.subscriptions import services
from outreach.subscriptions.emails import confirmation_message, message_language
from outreach.subscriptions.forms import (
    TOPIC_HELP,
    PreferencesForm,
    SubscribeForm,
    upcoming_sessions,
)

bp = Blueprint("public", __name__, url_prefix="/<any(en,fr,es):lang>")
links_bp = Blueprint("public_links", __name__)


def subscribe_rate_limit() -> str:
    return current_app.config["SUBSCRIBE_RATE_LIMIT"]


@bp.url_value_preprocessor
def pull_lang(endpoint: str | None, values: dict | None) -> None:
    g.lang = (values or {}).pop("lang", "en")


@bp.url_defaults
def add_lang(endpoint: str, values: dict) -> None:
    values.setdefault("lang", g.get("lang") or "en")


@dataclass
class LanguageLink:
    code: str
    name: str
    url: str
    current: bool


def _same_page(lang: str) -> str:
    """This page in another language (the form for pages that only answer a POST)."""
    rule = request.url_rule
    args = dict(request.view_args or {})
    if request.endpoint == "public_links.unsubscribe":
        return url_for("public.unsubscribe", lang=lang, **args)
    if request.blueprint == "public" and rule is not None and "GET" in (rule.methods or ()):
        return url_for(request.endpoint, **args, lang=lang)
    return url_for("public.subscribe", lang=lang)


def _page_context() -> dict:
    current = str(get_locale() or "en")

    def language_links() -> list[LanguageLink]:
        return [
            LanguageLink(code, name, _same_page(code), code == current)
            for code, name in LANGUAGE_NAMES.items()
        ]

    return {"page_lang": current, "language_links": language_links, "topic_help": TOPIC_HELP}


bp.context_processor(_page_context)
links_bp.context_processor(_page_context)


def _meta(source: str = "form") -> services.RequestMeta:
    return services.RequestMeta(
        source=source,
        ip_address=request.remote_addr or "",
        user_agent=request.user_agent.string,
    )


def _error_page(error: HTTPException):
    status = error.code or 400
    if status == 429:
        title = gettext("Too many attempts")
        message = gettext("You have sent this form too often. Please wait a while and try again.")
    elif status == 404:
        title = gettext("Page not found")
        message = gettext("There is no page at this address.")
    elif status == 405:
        title = gettext("Page not found")
        message = gettext("This page cannot be opened this way.")
    else:
        title = gettext("Something is wrong with this request")
        message = gettext("The form may have expired. Go back, reload the page and try again.")
    return render_template("public/error.html", title=title, message=message), status


for _status in (400, 404, 405, 429):
    bp.register_error_handler(_status, _error_page)
    links_bp.register_error_handler(_status, _error_page)


def _invalid_link():
    return render_template("public/invalid.html"), 400


def _contact_from(purpose: str, token: str) -> Contact | None:
    try:
        return services.contact_from_token(db.session, purpose, token)
    except tokens.TokenError:
        return None


# -- subscribe


@links_bp.get("/subscribe")
def subscribe_redirect():
    return redirect(url_for("public.subscribe", lang=browser_language()))


@bp.get("/")
def home():
    return redirect(url_for("public.subscribe"))


@bp.route("/subscribe", methods=["GET", "POST"])
@limiter.limit(subscribe_rate_limit, methods=["POST"])
@csrf.exempt  # cached for everyone, so no per-session token: checked by origin instead
@cached_public_page
def subscribe():
    if request.method == "POST" and not same_origin_post():
        abort(400)
    form = SubscribeForm(language=g.lang)
    sessions = upcoming_sessions(db.session)
    form.set_choices(g.lang, sessions)
    if form.is_submitted() and form.website.data:
        return redirect(url_for("public.check_email"))  # a bot: same answer, nothing done
    if form.validate_on_submit():
        try:
            link = services.subscribe(db.session, form.subscribe_request(), _meta())
            if link.deliver:
                queue_after_commit(db.session, confirmation_message(link))
            db.session.commit()
        except ServiceError as exc:
            db.session.rollback()
            form.show_service_errors(exc.fields)
        except IntegrityError:
            db.session.rollback()
            return redirect(url_for("public.check_email"))
        else:
            return redirect(url_for("public.check_email"))
    status = 400 if form.is_submitted() else 200
    return render_template("public/subscribe.html", form=form, sessions=sessions), status


@bp.get("/subscribe/check-email")
def check_email():
    days = max(1, current_app.config["CONFIRM_TOKEN_MAX_AGE"] // 86400)
    return render_template("public/check_email.html", days=days)


@bp.get("/privacy")
def privacy():
    return render_template("public/privacy.html")


# -- confirm


@bp.route("/confirm/<token>", methods=["GET", "POST"])
def confirm(token: str):
    """GET shows a button (scanners prefetch links); the POST confirms."""
    max_age = current_app.config["CONFIRM_TOKEN_MAX_AGE"]
    try:
        if request.method == "GET":
            tokens.verify(services.CONFIRM, token, max_age=max_age)
            return render_template("public/confirm.html", token=token)
        result = services.confirm(db.session, token, _meta())
        preferences = url_for(
            "public.preferences", token=services.preferences_token(result.contact)
        )
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return render_template("public/already_used.html")
    except tokens.TokenExpired:
        db.session.rollback()
        return render_template("public/expired.html", token=token)
    except (tokens.TokenInvalid, ServiceError):
        db.session.rollback()
        return _invalid_link()
    if result.already_confirmed:
        return render_template("public/already_used.html")
    return render_template("public/confirmed.html", preferences_url=preferences)


@bp.post("/confirm/renew")
@limiter.limit(subscribe_rate_limit, methods=["POST"])
def renew():
    """Send a new link for an expired one; the same answer whatever happened."""
    token = request.form.get("token", "")
    try:
        tokens.verify(services.CONFIRM, token, max_age=current_app.config["CONFIRM_TOKEN_MAX_AGE"])
    except tokens.TokenExpired as expired:
        link = services.renew_confirmation(db.session, expired.payload)
        if link is not None and link.deliver:
            queue_after_commit(db.session, confirmation_message(link))
            db.session.commit()
    except tokens.TokenInvalid:
        pass
    return render_template("public/renewed.html")


# -- preference centre


@bp.route("/preferences/<token>", methods=["GET", "POST"])
def preferences(token: str):
    contact = _contact_from(services.PREFERENCES, token)
    if contact is None:
        return _invalid_link()
    subscription = contact.subscription
    if subscription is not None and subscription.status != "confirmed":
        return render_template("public/inactive.html")
    form = PreferencesForm()
    sessions = upcoming_sessions(db.session)
    form.set_choices(g.lang, sessions)
    if not form.is_submitted():
        form.load_subscription(services.current_preferences(contact), subscription)
    elif form.validate():
        prefs = form.chosen_preferences()
        try:
            services.update_preferences(
                db.session, contact, prefs, _meta(), pause_weeks=form.pause_weeks.data or 0
            )
            db.session.commit()
        except ServiceError as exc:
            db.session.rollback()
            form.show_service_errors(exc.fields)
        except IntegrityError:
            db.session.rollback()
            return redirect(url_for("public.preferences", token=token))
        else:
            g.lang = prefs.language
            refresh()
            flash(
                gettext("Your preferences are saved. They take effect for the next send."),
                "success",
            )
            return redirect(url_for("public.preferences", token=token, lang=prefs.language))
    paused = subscription is not None and subscription.is_paused()
    return render_template(
        "public/preferences.html",
        form=form,
        contact=contact,
        token=token,
        sessions=sessions,
        paused_until=format_date(to_local(subscription.paused_until).date(), "long")
        if paused
        else None,
        unsubscribe_url=url_for("public.unsubscribe", token=services.unsubscribe_token(contact)),
    ), (400 if form.errors else 200)


# -- unsubscribe


def _unsubscribe(contact: Contact, source: str) -> None:
    try:
        services.unsubscribe(db.session, contact, _meta(source))
        db.session.commit()
    except IntegrityError:
        db.session.rollback()


def _unsubscribe_page(contact: Contact, action: str):
    if request.method == "POST":
        _unsubscribe(contact, "form")
        return render_template("public/unsubscribed.html")
    subscription = contact.subscription
    if subscription is not None and subscription.status == "unsubscribed":
        return render_template("public/unsubscribed.html")
    return render_template("public/unsubscribe.html", email=contact.email, action=action)


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(token: str):
    contact = _contact_from(services.UNSUBSCRIBE, token)
    if contact is None:
        return _invalid_link()
    return _unsubscribe_page(contact, url_for("public.unsubscribe", token=token))


def _is_one_click() -> bool:
    if request.form.get("List-Unsubscribe") == "One-Click":
        return True
    return request.get_data(as_text=True).strip() == "List-Unsubscribe=One-Click"


@links_bp.route("/u/<token>", methods=["GET", "POST"], endpoint="unsubscribe")
@csrf.exempt
def list_unsubscribe(token: str):
    """The List-Unsubscribe URL: a page with one button, or RFC 8058 one-click by POST."""
    one_click = request.method == "POST" and _is_one_click()
    contact = _contact_from(services.UNSUBSCRIBE, token)
    g.lang = message_language(contact.language) if contact is not None else browser_language()
    refresh()
    if one_click:
        if contact is None:
            return _invalid_link()
        _unsubscribe(contact, "email")
        return Response(gettext("You are unsubscribed.") + "\n", 200, mimetype="text/plain")
    if contact is None:
        return _invalid_link()
    if request.method == "POST" and current_app.config["WTF_CSRF_ENABLED"]:
        csrf.protect()  # only the one-click POST comes without our form's token
    return _unsubscribe_page(contact, url_for("public_links.unsubscribe", token=token))
