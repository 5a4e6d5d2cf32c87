"""The satisfaction blueprint; its routes live in one module per feature
(``survey_views``, ``dashboard_views``, ``follow_up_views``), which the app factory imports."""

from flask import Blueprint

bp = Blueprint("satisfaction", __name__)
