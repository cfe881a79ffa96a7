"""Notifications: each person sees only their own, newest first, and marks them read."""

from __future__ import annotations

import re

from sqlalchemy import select

from provisioning.health import Notification, observe, upsert_channel
from provisioning.partners import Provider
from provisioning.tenancy import Role

from .test_fleet import counted_queries


def red_channel(session, company, ref="n-1"):
    """A channel that dropped to RED: one alert for the company's admins and platform admins."""
    channel = upsert_channel(
        session, company.id, Provider.META, ref, phone_number=f"+1555{ref[-1]}000",
        display_name="Support line", status="CONNECTED", quality_rating="GREEN",
    )  # fmt: skip
    observe(session, channel, source="webhook", quality_rating="RED")
    session.commit()
    return channel


def ids_shown(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-notification-id="(\d+)"', page)]


def unread_shown(page: str) -> int:
    match = re.search(r'id="unread-count"[^>]*>(\d+)<', page)
    return int(match[1]) if match else 0


def test_company_and_platform_admins_see_the_alert_linked_to_their_channel_page(
    client, auth, make, session
):
    company = make.company()
    company_admin, member = make.user(company, Role.ADMIN), make.user(company, Role.MEMBER)
    platform = make.admin()
    channel = red_channel(session, company)

    auth.login(company_admin)
    page = client.get("/notifications/").get_data(as_text=True)
    assert "Support line (+15551000): quality rating dropped to RED." in page
    assert f'href="/c/{company.slug}/fleet/channels/{channel.id}"' in page
    assert 'class="card notification unread"' in page and unread_shown(page) == 1
    auth.logout()

    auth.login(platform)
    page = client.get("/notifications/").get_data(as_text=True)
    assert f'href="/admin/fleet/channels/{channel.id}"' in page and unread_shown(page) == 1
    auth.logout()

    auth.login(member)  # members are not alerted
    page = client.get("/notifications/").get_data(as_text=True)
    assert ids_shown(page) == [] and 'id="notifications-empty"' in page
    assert unread_shown(page) == 0


def test_newest_first_and_marked_read_one_by_one_or_all(client, auth, make, session):
    company = make.company()
    admin = make.user(company, Role.ADMIN)
    for ref in ("n-1", "n-2", "n-3"):
        red_channel(session, company, ref)
    mine = session.scalars(
        select(Notification.id).where(Notification.user_id == admin.id).order_by(Notification.id)
    ).all()
    auth.login(admin)
    page = client.get("/notifications/").get_data(as_text=True)
    assert ids_shown(page) == list(reversed(mine)) and unread_shown(page) == 3

    response = auth.post(f"/notifications/{mine[0]}/read", form_page="/notifications/")
    assert response.status_code == 303
    page = client.get("/notifications/").get_data(as_text=True)
    assert unread_shown(page) == 2 and page.count('notification unread"') == 2
    assert session.get(Notification, mine[0]).read_at is not None

    auth.post("/notifications/read", form_page="/notifications/")
    page = client.get("/notifications/").get_data(as_text=True)
    assert unread_shown(page) == 0 and 'notification unread"' not in page
    assert len(ids_shown(page)) == 3  # read ones stay listed


def test_anothers_notification_is_404_and_stays_unread(client, auth, make, session):
    alpha, beta = make.company(), make.company()
    alpha_admin, beta_admin = make.user(alpha, Role.ADMIN), make.user(beta, Role.ADMIN)
    red_channel(session, beta)
    theirs = session.scalars(
        select(Notification).where(Notification.user_id == beta_admin.id)
    ).one()
    auth.login(alpha_admin)
    assert ids_shown(client.get("/notifications/").get_data(as_text=True)) == []
    response = auth.post(f"/notifications/{theirs.id}/read", form_page="/notifications/")
    assert response.status_code == 404
    auth.post("/notifications/read", form_page="/notifications/")  # all of *mine*
    session.refresh(theirs)
    assert theirs.read_at is None


def test_older_pages_follow_the_cursor(client, auth, make, session):
    from provisioning import fleet

    company = make.company()
    admin = make.user(company, Role.ADMIN)
    channel = red_channel(session, company)
    for _ in range(30):  # 60 more alerts: to GREEN is none, to YELLOW and to RED one each
        for quality in ("GREEN", "YELLOW", "RED"):
            observe(session, channel, source="sync", quality_rating=quality)
    session.commit()
    first, cursor = fleet.notifications_page(session, admin.id)
    second, end = fleet.notifications_page(session, admin.id, before=cursor)
    assert len(first) == 50 and len(second) == 11 and end is None
    assert [n.id for n in first + second] == sorted((n.id for n in first + second), reverse=True)
    auth.login(admin)
    page = client.get(f"/notifications/?before={cursor}").get_data(as_text=True)
    assert ids_shown(page) == [n.id for n in second]
    assert client.get("/notifications/?before=zzz").status_code == 200  # first page


def test_the_badge_costs_one_query(app, client, auth, make, session):
    company = make.company()
    admin = make.user(company, Role.ADMIN)
    red_channel(session, company)
    auth.login(admin)
    with counted_queries(app) as statements:
        page = client.get(f"/c/{company.slug}/team").get_data(as_text=True)
    assert unread_shown(page) == 1
    assert sum("notifications" in s for s in statements) == 1


def test_removed_members_no_longer_see_the_companys_alerts(client, auth, make, session):
    from provisioning import accounts
    from provisioning.audit import SYSTEM
    from provisioning.tenancy import Membership

    company, other = make.company(), make.company()
    admin = make.user(company, Role.ADMIN)
    accounts.set_membership(session, SYSTEM, admin, other, Role.ADMIN)
    red_channel(session, company, "n-1")
    red_channel(session, other, "n-2")
    mine = session.scalars(
        select(Notification).where(Notification.user_id == admin.id).order_by(Notification.id)
    ).all()
    auth.login(admin)
    assert len(ids_shown(client.get("/notifications/").get_data(as_text=True))) == 2

    membership = session.scalars(
        select(Membership).where(
            Membership.user_id == admin.id, Membership.company_id == company.id
        )
    ).one()
    accounts.deactivate_membership(session, SYSTEM, membership)
    session.commit()
    page = client.get("/notifications/").get_data(as_text=True)
    assert ids_shown(page) == [mine[1].id] and unread_shown(page) == 1
    response = auth.post(f"/notifications/{mine[0].id}/read", form_page="/notifications/")
    assert response.status_code == 404
    auth.post("/notifications/read", form_page="/notifications/")
    session.expire_all()
    assert mine[0].read_at is None and mine[1].read_at is not None

    other.is_active = False  # a deactivated company's alerts go too
    session.commit()
    assert ids_shown(client.get("/notifications/").get_data(as_text=True)) == []

    accounts.set_membership(session, SYSTEM, admin, company, Role.MEMBER)  # back again
    session.commit()
    assert ids_shown(client.get("/notifications/").get_data(as_text=True)) == [mine[0].id]
