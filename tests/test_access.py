"""Every route has an access marker, and every marker holds against every kind of user."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.access import LEVELS
from provisioning.tenancy import Membership, Role
from tests.route_inputs import choices, int_arguments, kept_cookies, undone
from tests.route_inputs import routes as all_routes
from tests.tenants import Rows, Tenant, changes, populate


def routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        yield rule, app.view_functions[rule.endpoint]


def test_every_route_declares_who_may_call_it(app):
    unmarked = [
        rule.rule for rule, view in routes(app) if getattr(view, "access", None) not in LEVELS
    ]
    assert unmarked == [], f"routes without an access marker: {unmarked}"


def test_company_routes_take_the_company_from_the_url(app):
    for rule, view in routes(app):
        if view.access in {"company_member", "company_admin"}:
            assert "company" in rule.arguments, rule.rule


@pytest.fixture
def world(make, session):
    a, b = make.company("Alpha"), make.company("Beta")
    users = {
        "admin_a": make.user(a, Role.ADMIN),
        "member_a": make.user(a, Role.MEMBER),
        "admin_b": make.user(b, Role.ADMIN),
        "platform": make.admin(),
    }
    b_membership = session.scalars(select(Membership).where(Membership.company_id == b.id)).first()
    return a, b, users, b_membership


@pytest.fixture
def b_ids(world, session):
    """Ids of company B's rows, for routes that take them."""
    from provisioning.health import upsert_channel
    from provisioning.partners import Provider

    _a, b, _users, b_membership = world
    channel = upsert_channel(session, b.id, Provider.META, "b-1", phone_number="+15550000001")
    session.commit()
    return {"membership_id": b_membership.id, "channel_id": channel.id}


SAMPLES = {
    "provider": "meta",
    "status": "active",
    "kind": "status",
}  # arguments with a fixed set of values


def url_for_rule(rule, company_slug: str, ids: dict[str, int]) -> str:
    values = {}
    for arg in rule.arguments:
        if arg == "company":
            values[arg] = company_slug
        elif arg in ids:
            values[arg] = ids[arg]
        else:
            values[arg] = SAMPLES.get(arg, "x" if "token" in arg else 1)
    return rule.build(values)[1]


@pytest.fixture
def csrf_off(app, monkeypatch):
    """Call after signing in: access checks must hold whatever CSRF would refuse first."""
    return lambda: monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", False)


def methods(rule):
    return sorted(rule.methods - {"HEAD", "OPTIONS"})


def call(client, method, url):
    return client.open(url, method=method, data={})


def test_anonymous_users_are_sent_to_login(app, client, world):
    a, *_ = world
    for rule, view in routes(app):
        if view.access in ("public", "api_key"):  # the API's: tests/test_api.py
            continue
        url = url_for_rule(rule, a.slug, {})
        for method in methods(rule):
            response = call(client, method, url)
            assert response.status_code in (302, 400), (method, url, response.status_code)
            if response.status_code == 302:
                assert "/login" in response.location, (method, url)


def test_a_user_of_another_company_gets_404_everywhere(app, client, auth, world, b_ids, csrf_off):
    a, b, users, b_membership = world  # noqa: RUF059
    auth.login(users["admin_a"])
    csrf_off()
    for rule, view in routes(app):
        if view.access not in {"company_member", "company_admin", "platform_admin"}:
            continue
        url = url_for_rule(rule, b.slug, b_ids)
        for method in methods(rule):
            response = call(client, method, url)
            assert response.status_code == 404, (method, url, response.status_code)


def test_tenant_rows_of_another_company_are_404_inside_ones_own_company(
    app, client, auth, world, b_ids, csrf_off
):
    """Own company in the URL, but the id of a row of company B: still 404."""
    a, b, users, b_membership = world  # noqa: RUF059
    auth.login(users["admin_a"])
    csrf_off()
    for rule, view in routes(app):
        if view.access in {"company_member", "company_admin"} and len(rule.arguments) > 1:
            url = url_for_rule(rule, a.slug, b_ids)
            for method in methods(rule):
                assert call(client, method, url).status_code == 404, (method, url)
    assert b_membership.is_active and b_membership.role == Role.ADMIN


def test_members_get_403_on_admin_only_company_routes(app, client, auth, world, csrf_off):
    a, b, users, _ = world  # noqa: RUF059
    auth.login(users["member_a"])
    csrf_off()
    for rule, view in routes(app):
        if view.access == "company_admin":
            url = url_for_rule(rule, a.slug, {})
            for method in methods(rule):
                assert call(client, method, url).status_code == 403, (method, url)


def test_members_see_their_company_pages(client, auth, world):
    a, b, users, _ = world  # noqa: RUF059
    auth.login(users["member_a"])
    assert client.get(f"/c/{a.slug}/").status_code == 200
    assert client.get(f"/c/{a.slug}/team").status_code == 200


def test_platform_admins_enter_every_company_and_the_admin_area(client, auth, world):
    a, b, users, _ = world
    auth.login(users["platform"])
    for url in (f"/c/{a.slug}/", f"/c/{b.slug}/team", "/admin/", "/admin/companies"):
        assert client.get(url).status_code == 200, url


def test_an_unmarked_view_is_refused(app):
    from flask import Flask

    from portal.access import enforce_markers

    bare = Flask("bare")
    bare.add_url_rule("/open", "open", lambda: "should not be served")
    enforce_markers(bare)
    assert bare.test_client().get("/open").status_code == 404


# -- route by route: a foreign company's admin and member, the victim's ids everywhere ----
@pytest.fixture
def tenants(session, make, connected_sandbox):
    """Two companies with a row of every kind, their names and secrets marked (canaries)."""
    sandbox = connected_sandbox(12)
    return populate(session, make, sandbox, "alpha"), populate(session, make, sandbox, "beta")


def victim_inputs(victim: Tenant) -> dict[str, str]:
    """Query and form values naming the victim's rows, under every name a view reads ids,
    companies, people or numbers by."""
    ids = {name: str(values[0]) for name, values in victim.ids.items()}
    return ids | {
        "company": victim.company.slug,
        "id": ids["channel_id"],
        "after": ids["channel_id"],
        "before": ids["notification_id"],
        "email": victim.admin.email,
        "client": "cl-beta",
        "phone_number": victim_number(victim),
    }


def victim_number(victim: Tenant) -> str:
    from portal.extensions import db
    from provisioning.twilio.models import SmsPhoneNumber

    return db.session.get(SmsPhoneNumber, victim.ids["number_id"][0]).phone_number


NO_SUCH = {"company": "no-such-company", "id": 2**63 - 1}
# Rows anyone may add for another company's user, by design: a reset link for any address
# is mailed to its owner and changes nothing else (docs/security/authentication.md).
BY_DESIGN = {("POST /password/forgot", "password_resets")}


def urls_against(rule, attacker: Tenant, victim: Tenant) -> list[tuple[str, str | None]]:
    """(URL, the same URL naming nothing that exists, or None when the path names none of
    the victim's objects): the victim's company with its ids, one's own company with the
    victim's ids, and one's own company and ids (the victim's ids then travel in the query
    and form only)."""
    ints = sorted(int_arguments(rule))
    kinds = max((len(victim.ids.get(n, [])) for n in ints), default=1)  # tables an id names
    plans = [(victim, victim, True), (attacker, attacker, False)]
    if ints and "company" in rule.arguments:
        plans.insert(1, (attacker, victim, True))
    urls = []
    for company, ids, in_path in plans:
        for kind in range(kinds if ids is victim else 1):
            values, missing = {}, {}
            for name in rule.arguments:
                if name == "company":
                    values[name] = company.company.slug
                    missing[name] = NO_SUCH["company"] if company is victim else values[name]
                elif name in ints:
                    listed = ids.ids.get(name) or [0]
                    values[name], missing[name] = listed[min(kind, len(listed) - 1)], NO_SUCH["id"]
                else:
                    values[name] = missing[name] = (choices(rule, name) or ["x"])[0]
            names_victim = in_path and (bool(ints) or "company" in rule.arguments)
            urls.append((rule.build(values)[1], rule.build(missing)[1] if names_victim else None))
    return list(dict.fromkeys(urls))


def send(client, method: str, url: str, inputs: dict):
    data = inputs if method != "GET" else None
    return client.open(url, method=method, query_string=inputs, data=data, follow_redirects=True)


@pytest.mark.parametrize("who", ["admin", "member"])
def test_a_foreign_user_neither_sees_nor_changes_another_company_on_any_route(
    app, client, auth, session, tenants, csrf_off, who
):
    """Every route of ``app.url_map``, every method, the victim's ids in the path, the query
    and the form: no answer shows a victim's canary, a path naming a victim's object is
    answered as one naming nothing that exists (never a 2xx), and no victim row changes,
    appears or goes (compared after each route, whose changes are then undone)."""
    attacker, victim = tenants
    auth.login(getattr(attacker, who))
    csrf_off()
    rows = Rows(session)
    before = rows.of(victim)
    inputs = victim_inputs(victim)
    leaks, changed, requests = [], [], 0
    for route in all_routes(app):
        with undone(app, session), kept_cookies(client):
            for url, nothing in urls_against(route.rule, attacker, victim):
                response = send(client, route.method, url, inputs)
                first = (response.history or (response,))[0]
                if nothing is not None:  # as for an object that does not exist: no oracle
                    missing = send(client, route.method, nothing, inputs)
                    status = (missing.history or (missing,))[0].status_code
                    if 200 <= first.status_code < 300 or first.status_code != status:
                        leaks.append(f"{route.method} {url}: {first.status_code} ({status})")
                    requests += 1
                requests += 1
                for answer in (*response.history, response):
                    text = answer.get_data(as_text=True)
                    leaks += [f"{route.method} {url}: {c}" for c in victim.canaries if c in text]
            changed += [
                f"{route}: {row}"
                for row in changes(before, rows.of(victim))
                if (str(route), row.partition(":")[0]) not in BY_DESIGN
            ]
    print(f"cross-tenant as {who}: {requests} requests, {len(leaks)} leaks, {len(changed)} changes")
    assert requests > 150
    assert leaks == [], leaks
    assert changed == [], changed
