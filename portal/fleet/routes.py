"""The fleet dashboard: every channel for platform admins, its own for each company.

Both lists share one template and one read module (:mod:`provisioning.fleet`); the only
difference is the scope. A company's pages read through its tenant scope, so a channel
of another company is a 404.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from provisioning import fleet, health
from provisioning.channels import Channel
from provisioning.db import utcnow
from provisioning.meta.status import number_status
from provisioning.partners import Provider
from provisioning.sync import SyncRun
from provisioning.templates import accounts as template_accounts
from provisioning.tenancy import Company, tenant_get

from ..access import company_member, platform_admin
from ..admin.forms import ConfirmForm
from ..extensions import db
from ..jobs import enqueue
from . import chart, filters

bp = Blueprint("fleet", __name__)


@bp.route("/admin/fleet/")
@platform_admin
def admin_index():
    query = filters.parse(request.args, company_filter=True)
    return _render_fleet(query, sync_runs=fleet.latest_sync_runs(db.session))


@bp.route("/admin/fleet/sync", methods=["POST"])
@platform_admin
def admin_sync():
    """Queue a quality sync of every provider now (Meta sends no webhook for a quality
    change: the sync is how it reaches the portal between scheduled passes)."""
    if ConfirmForm().validate_on_submit():
        enqueue("sync.quality")
        flash("A quality sync of every provider is queued.", "info")
    return redirect(url_for("fleet.admin_index"))


@bp.route("/c/<company>/fleet/")
@company_member
def company_index():
    query = filters.parse(request.args, company_filter=False)
    query.where = query.where.within(g.company.id)
    return _render_fleet(query, sync_runs=None)


@bp.route("/admin/fleet/channels/<int:channel_id>")
@platform_admin
def admin_channel(channel_id: int):
    # Platform admins see every company's channels: no tenant scope to apply.
    channel = db.get_or_404(Channel, channel_id)
    return _render_channel(channel, db.session.get_one(Company, channel.company_id))


@bp.route("/c/<company>/fleet/channels/<int:channel_id>")
@company_member
def company_channel(channel_id: int):
    return _render_channel(tenant_get(db.session, Channel, g.company.id, channel_id), g.company)


def _render_fleet(query: filters.FleetQuery, sync_runs: list[SyncRun] | None) -> str:
    page = fleet.channels_page(db.session, query.where, after=query.after, before=query.before)

    def here(**values: Any) -> str:
        """This page's URL (its company, if any) with the query arguments ``values``."""
        return url_for(request.endpoint or "", **(request.view_args or {}), **values)

    def link(**changes: str | None) -> str:
        """This page's URL with the current filters and ``changes`` (None drops one)."""
        return here(**query.link(**changes))

    return render_template(
        "fleet/index.html",
        query=query,
        link=link,
        base_url=here(),
        counts=fleet.counts(db.session, query.where),
        page=page,
        sync_runs=sync_runs,
        providers=list(Provider),
        qualities=fleet.QUALITY_ORDER,
        sync_form=ConfirmForm() if sync_runs is not None else None,
        template_counts=template_accounts.counts_by_status(
            db.session, g.company.id if sync_runs is None else None
        ),
    )


def _render_channel(channel: Channel, company: Company) -> str:
    rows = health.history(db.session, channel)
    steps = fleet.health_steps(rows, until=utcnow())
    label = channel.display_name or channel.phone_number
    return render_template(
        "fleet/channel.html",
        channel=channel,
        company=company,
        chart=chart.build(steps, label),
        changes=list(reversed(rows)),
        alerts=fleet.channel_alerts(db.session, channel),
        meta=number_status(db.session, channel),
    )
