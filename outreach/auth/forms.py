from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from outreach.auth.models import ROLES
from outreach.core.validators import no_newlines

ROLE_CHOICES = [SelectChoice(role, role.capitalize()) for role in ROLES]


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])
    remember = BooleanField("Keep me signed in")


class UserForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), no_newlines])
    name = StringField("Name", validators=[Length(max=200), no_newlines])
    role = SelectField("Role", choices=ROLE_CHOICES, default="viewer")
    password = PasswordField("Initial password", validators=[DataRequired()])


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES)


class PasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired()])
    new_password = PasswordField("New password", validators=[DataRequired()])
    confirm = PasswordField(
        "New password again",
        validators=[DataRequired(), EqualTo("new_password", "The two new passwords differ.")],
    )
