"""Outreach: UPR stakeholder registry, calendar and newsletters."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from config import Config, load_config

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: str | Config | None = None, **overrides) -> Flask:
    """Build the application. `config` is a config name or instance; `overrides` win over both."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        instance_path=str(ROOT / "instance"),
    )
    settings = config if isinstance(config, Config) else load_config(config)
    app.config.from_object(settings)
    app.config.update(overrides)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    register_extensions(app)
    register_blueprints(app)
    register_cli(app)
    register_template_helpers(app)
    register_errors(app)
    register_security(app)
    return app


def register_extensions(app: Flask) -> None:
    from outreach.core.database import configure_engine_events
    from outreach.extensions import babel, cache, csrf, db, limiter, login_manager, mail, migrate
    from outreach.i18n import select_locale
    from outreach.ops import init_app as init_operations

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    mail.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message_category = "warning"
    cache.init_app(app)
    init_operations(app)
    with app.app_context():
        configure_engine_events(db.engine)

    import outreach.alerts.digest_sender  # registers the digest sender and scheduler job
    import outreach.alerts.senders  # registers the alert and notice senders
    import outreach.engagement.subject_tests  # registers the subject test job
    import outreach.feeds.services  # registers the feeds scheduler job
    import outreach.mail.transactional
    import outreach.models  # noqa: F401  (every table, and the user loader)


def register_blueprints(app: Flask) -> None:
    from outreach.alerts.views import bp as alerts_bp
    from outreach.api.token_views import bp as api_tokens_bp
    from outreach.api.views import bp as api_bp
    from outreach.audit.views import bp as audit_bp
    from outreach.auth.user_views import bp as users_bp
    from outreach.auth.views import bp as auth_bp
    from outreach.calendar.feed_views import bp as calendar_feeds_bp
    from outreach.calendar.views import bp as calendar_bp
    from outreach.campaigns.archive_views import bp as archive_bp
    from outreach.campaigns.send_views import bp as campaign_send_bp
    from outreach.campaigns.views import bp as campaigns_bp
    from outreach.contacts.import_views import bp as imports_bp
    from outreach.contacts.views import bp as contacts_bp
    from outreach.core.views import bp as core_bp
    from outreach.dashboard.views import bp as dashboard_bp
    from outreach.delivery.bounces.views import bp as bounces_bp
    from outreach.devmail.views import bp as devmail_bp
    from outreach.engagement.staff_views import bp as engagement_staff_bp
    from outreach.engagement.views import bp as engagement_bp
    from outreach.engagement.webhook_views import bp as webhooks_bp
    from outreach.feeds.views import bp as feeds_bp
    from outreach.ops.views import bp as ops_bp
    from outreach.segments.views import bp as segments_bp
    from outreach.series.views import bp as series_bp
    from outreach.subscriptions.public_views import bp as public_bp
    from outreach.subscriptions.public_views import links_bp as public_links_bp
    from outreach.subscriptions.staff_views import bp as suppressions_bp

    for blueprint in (
        core_bp,
        auth_bp,
        contacts_bp,
        imports_bp,
        calendar_bp,
        calendar_feeds_bp,
        alerts_bp,
        feeds_bp,
        segments_bp,
        suppressions_bp,
        campaign_send_bp,
        campaigns_bp,
        bounces_bp,
        archive_bp,
        public_bp,
        public_links_bp,
        devmail_bp,
        ops_bp,
        series_bp,
        dashboard_bp,
        users_bp,
        audit_bp,
        engagement_bp,
        webhooks_bp,
        engagement_staff_bp,
        api_bp,
        api_tokens_bp,
    ):
        app.register_blueprint(blueprint)


def register_cli(app: Flask) -> None:
    from outreach.alerts.cli import alerts_cli
    from outreach.auth.cli import users_cli
    from outreach.calendar.cli import calendar_cli
    from outreach.contacts.cli import contacts_cli
    from outreach.delivery.bounces.cli import process_bounces_command
    from outreach.delivery.cli import delivery_cli, scheduler_command
    from outreach.demo.cli import demo_cli
    from outreach.devmail.cli import devmail_cli
    from outreach.feeds.cli import feeds_cli
    from outreach.series.cli import series_cli

    delivery_cli.add_command(process_bounces_command)
    for command in (
        users_cli,
        calendar_cli,
        contacts_cli,
        demo_cli,
        devmail_cli,
        delivery_cli,
        scheduler_command,
        alerts_cli,
        feeds_cli,
        series_cli,
    ):
        app.cli.add_command(command)

    from outreach.alerts.digest_cli import digest_command

    alerts_cli.add_command(digest_command)  # `flask alerts digest`


def register_template_helpers(app: Flask) -> None:
    from outreach.core import template_helpers

    template_helpers.register(app)


def register_errors(app: Flask) -> None:
    from outreach.core import errors

    errors.register(app)


def register_security(app: Flask) -> None:
    from outreach.core import security

    security.register(app)
