"""Staff sign-in, sign-out, and the CLI that creates accounts."""

from outreach.auth.models import User
from tests.conftest import login
from tests.factories import PASSWORD, make_user


def test_staff_pages_need_login(client):
    for path in ("/", "/contacts", "/sessions", "/segments", "/deadlines"):
        response = client.get(path)
        assert response.status_code == 302
        assert "/login" in response.headers["Location"]


def test_login_and_logout(client, admin_user):
    response = client.post("/login", data={"email": "ADMIN@example.org", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    client.post("/logout")
    assert client.get("/").status_code == 302


def test_wrong_password_and_unknown_user_get_the_same_answer(client, admin_user):
    wrong = client.post("/login", data={"email": "admin@example.org", "password": "nope"})
    unknown = client.post("/login", data={"email": "who@example.org", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert b"Email or password is incorrect" in wrong.data
    assert b"Email or password is incorrect" in unknown.data


def test_inactive_user_cannot_sign_in(client, db_session):
    user = make_user(db_session, "gone@example.org", role="editor")
    user.active = False
    db_session.commit()
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 401


def test_next_parameter_only_follows_local_paths(client, admin_user):
    response = client.post(
        "/login?next=https://evil.example/", data={"email": admin_user.email, "password": PASSWORD}
    )
    assert response.headers["Location"] == "/"
    client.post("/logout")
    response = client.post(
        "/login?next=/sessions", data={"email": admin_user.email, "password": PASSWORD}
    )
    assert response.headers["Location"] == "/sessions"


def test_users_create_reads_password_from_stdin(app, db_session):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["users", "create", "Editor@Example.org", "--role", "editor", "--password-stdin"],
        input="a-long-enough-password\n",
    )
    assert result.exit_code == 0, result.output
    assert "Created editor Editor@example.org" in result.output
    user = db_session.query(User).one()
    assert user.check_password("a-long-enough-password")
    duplicate = runner.invoke(
        args=["users", "create", "editor@example.org", "--password-stdin"],
        input="a-long-enough-password\n",
    )
    assert duplicate.exit_code != 0
    assert "already exists" in duplicate.output


def test_users_create_refuses_short_password(app):
    result = app.test_cli_runner().invoke(
        args=["users", "create", "x@example.org", "--password-stdin"], input="short\n"
    )
    assert result.exit_code != 0
    assert "at least 10 characters" in result.output


def test_home_page_shows_counts(staff_client):
    page = staff_client.get("/").get_data(as_text=True)
    assert "Contacts" in page and "UPR sessions" in page


def test_login_helper(app, admin_user):
    assert login(app.test_client(), admin_user)


def test_the_account_menu_shows_admin_pages_to_admins_only(staff_client, viewer_client):
    admin_page = staff_client.get("/").get_data(as_text=True)
    viewer_page = viewer_client.get("/").get_data(as_text=True)
    for href in ('href="/users/"', 'href="/audit/"'):
        assert href in admin_page and href not in viewer_page
    for page in (admin_page, viewer_page):
        assert 'href="/api-tokens"' in page and "Sign out" in page
