"""A company's message templates: every account's templates by status, one template with
its history, the builder, and "sync now"."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from wtforms.fields.choices import SelectChoice

from provisioning.errors import DomainError, ProviderError
from provisioning.templates import accounts, builder, connections, core, reasons
from provisioning.templates.models import STATUSES

from ..access import actor, company_admin, company_member
from ..boundary import checkpoint, errors_go_to, message_of
from ..extensions import db
from ..jobs import enqueue
from ..providers import provider_transport
from .forms import LibraryForm, TemplateForm

bp = Blueprint("templates", __name__, url_prefix="/c/<company>/templates")


def index_url(**args):
    return url_for("templates.index", company=g.company.slug, **args)


@bp.route("/")
@company_member
def index():
    status = request.args.get("status", "")
    status = status if status in STATUSES else ""
    account_id = _id(request.args.get("account", ""))
    return render_template(
        "message_templates/index.html",
        accounts=accounts.discover(db.session, g.company.id),
        rows=accounts.listing(db.session, g.company.id, status=status, account_id=account_id),
        counts=accounts.counts_by_status(db.session, g.company.id),
        status=status,
        account_id=account_id,
        confirm=TemplateForm(),
    )


@bp.route("/<int:template_id>")
@company_member
def show(template_id: int):
    row = accounts.template_of(db.session, g.company.id, template_id)
    return render_template(
        "message_templates/show.html",
        row=row,
        changes=core.history(db.session, row),
        rejection_text=reasons.rejection_text,
    )


@bp.route("/sync", methods=["POST"])
@errors_go_to(index_url)
@company_admin
def sync_now():
    """List the company's accounts again now (or the one named)."""
    keys = None
    if account_id := _id(request.form.get("account", "")):
        keys = [accounts.account_of(db.session, g.company.id, account_id).account_key]
    enqueue("sync.templates", g.company.id, keys)
    flash("Templates are being synced: this page shows the result in a moment.", "success")
    return redirect(index_url(account=account_id) if account_id else index_url(), 303)


@bp.route("/new", methods=["GET", "POST"])
@errors_go_to("templates.new")
@company_admin
def new():
    form = TemplateForm()
    choices = accounts.discover(db.session, g.company.id)
    form.account.choices = [SelectChoice(a.id, _account_label(a)) for a in choices]
    problems: dict[str, list[str]] = {}
    if request.method == "POST" and form.validate_on_submit():
        account = accounts.account_of(db.session, g.company.id, form.account.data)
        transport = provider_transport()
        try:
            connection = connections.connect(db.session, account, transport)
            row = builder.submit(db.session, checkpoint, actor(), account, form.draft(), connection)
        except builder.InvalidTemplate as exc:
            problems = exc.problems
        else:
            flash(f"Template {row.name} submitted: its review outcome appears here.", "success")
            return redirect(url_for("templates.show", company=g.company.slug, template_id=row.id))
        finally:
            transport.close()
    status = 400 if request.method == "POST" else 200
    return render_template(
        "message_templates/new.html", form=form, problems=problems, accounts=choices
    ), status


def library_url(**args):
    return url_for(
        "templates.library", company=g.company.slug, account=request.values.get("account")
    )


@bp.route("/library", methods=["GET", "POST"])
@errors_go_to(library_url)
@company_admin
def library():
    """Browse Meta's Template Library for one Meta account, and create from an item."""
    metas = [a for a in accounts.discover(db.session, g.company.id) if a.provider == "meta"]
    form = LibraryForm()
    form.account.choices = [SelectChoice(a.id, _account_label(a)) for a in metas]
    account_id = _id(request.values.get("account", "")) or (metas[0].id if metas else None)
    search = request.args.get("search", "").strip()[:100]
    language = request.args.get("language", "").strip()[:20]
    problems: dict[str, list[str]] = {}
    items: list[dict] = []
    unavailable = ""
    transport = provider_transport()
    try:
        if request.method == "POST" and form.validate_on_submit():
            account = accounts.account_of(db.session, g.company.id, form.account.data)
            connection = connections.connect(db.session, account, transport)
            try:
                row = builder.submit(
                    db.session, checkpoint, actor(), account, form.draft(), connection
                )
            except builder.InvalidTemplate as exc:
                problems = exc.problems
            else:
                flash(f"Template {row.name} submitted from the library.", "success")
                return redirect(
                    url_for("templates.show", company=g.company.slug, template_id=row.id)
                )
        elif account_id is not None:
            try:  # browsing fails in place: the page itself is where errors would go
                account = accounts.account_of(db.session, g.company.id, account_id)
                items = connections.library(db.session, account, transport, search, language)
            except (DomainError, ProviderError) as exc:
                unavailable = message_of(exc)
    finally:
        transport.close()
    status = 400 if request.method == "POST" else 200
    return render_template(
        "message_templates/library.html", form=form, items=items, accounts=metas,
        account_id=account_id, search=search, language=language, problems=problems,
        unavailable=unavailable,
    ), status  # fmt: skip


def _account_label(account) -> str:
    names = {"meta": "Meta", "dialog360": "360dialog", "twilio": "Twilio"}
    label = account.label or account.account_key
    return f"{names.get(account.provider, account.provider)} · {label} ({account.account_key})"


def _id(text: str) -> int | None:
    """A row id from a query or form field; anything else is no choice."""
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None
