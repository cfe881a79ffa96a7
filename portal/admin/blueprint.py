"""The platform admin blueprint and what its pages share (paging, form pages)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request
from flask_wtf import FlaskForm

bp = Blueprint("admin", __name__, url_prefix="/admin")
PER_PAGE = 25


def page_number() -> int:
    return request.args.get("page", 1, type=int) or 1


def form_page(template: str, form: FlaskForm, **context: Any) -> tuple[str, int]:
    """Render a form page: 400 when a submitted form has errors, 200 otherwise."""
    failed = request.method == "POST" and any(field.errors for field in form)
    return render_template(template, form=form, **context), 400 if failed else 200
