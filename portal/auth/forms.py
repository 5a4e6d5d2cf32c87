"""Login and password-recovery forms (CSRF-protected through Flask-WTF)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    """E-mail and password."""

    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])
    submit = SubmitField("Log in")


class ForgotForm(FlaskForm):
    """The address to send a reset link to."""

    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])


class ResetForm(FlaskForm):
    """A new password, twice (the policy is checked by the service)."""

    password = PasswordField("New password", validators=[DataRequired(), Length(max=256)])
    confirm = PasswordField("The same again", validators=[DataRequired(), Length(max=256)])


class CodeForm(FlaskForm):
    """A six-digit code from an authenticator app (spaces allowed)."""

    code = StringField("Code", validators=[DataRequired(), Length(max=12)])
