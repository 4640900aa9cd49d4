"""`flask db upgrade` on an empty database builds exactly the schema the models describe."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from outreach import create_app
from outreach.extensions import db


@pytest.fixture
def empty_database_url(database_url, tmp_path):
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    base = make_url(database_url)
    name = f"{base.database}_migrations"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield base.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_upgrade_builds_the_current_schema_and_downgrade_removes_it(empty_database_url):
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=empty_database_url)
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
        assert diff == [], f"models and migrations differ: {diff}"
        downgrade(revision="base")
        remaining = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
        assert remaining == set()
        db.engine.dispose()


def test_upgrade_to_0002_backfills_the_email_hash_of_existing_contacts(empty_database_url):
    import hashlib

    app = create_app("testing", SQLALCHEMY_DATABASE_URI=empty_database_url)
    with app.app_context():
        upgrade(revision="0001")
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO contacts (email, email_key, first_name, last_name, type, "
                    "role_title, language, status, notes, created_at, updated_at) VALUES "
                    "('Ana@Example.org', 'ana@example.org', 'Ana', '', 'ngo', '', 'en', "
                    "'active', '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
        upgrade()
        with db.engine.connect() as conn:
            stored = conn.execute(text("SELECT email_hash FROM contacts")).scalar_one()
        assert stored == hashlib.sha256(b"ana@example.org").hexdigest()
        db.engine.dispose()


def test_upgrade_seeds_the_default_alert_rules(empty_database_url):
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=empty_database_url)
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT kind, days_before FROM alert_rules ORDER BY kind, days_before")
            ).all()
        assert len(rows) == 12
        assert [days for kind, days in rows if kind == "stakeholder_submission"] == [1, 7, 14, 30]
        db.engine.dispose()
