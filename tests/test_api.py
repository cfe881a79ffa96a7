"""The platform API (/api/v1): keys, reach, problems, pagination, idempotency, OpenAPI."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from provisioning import accounts, api_keys, health, invitations, onboarding_links, platform_events
from provisioning.audit import SYSTEM, AuditEntry
from provisioning.partners import Provider
from provisioning.platform_events import EventDelivery
from provisioning.tenancy import Company, Role
from tests.test_api_twilio import foreign_rows

PROBLEM = "application/problem+json"


@pytest.fixture
def world(make, session):
    acme, globex = make.company("Acme"), make.company("Globex")
    for company, n in ((acme, 3), (globex, 2)):
        for i in range(n):
            health.upsert_channel(
                session, company.id, Provider.META, f"pn-{company.slug}-{i}",
                phone_number=f"+1555000{company.id}{i:03d}", status="CONNECTED",
                quality_rating="GREEN" if i else "RED", messaging_limit="TIER_1K",
            )  # fmt: skip
    session.commit()
    return {"acme": acme, "globex": globex, "admin": make.user(acme, Role.ADMIN)}


def key(session, scopes=("read",), company=None) -> str:
    _, token = api_keys.create_key(session, SYSTEM, "test service", scopes, company)
    session.commit()
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_no_key_a_bad_key_and_a_revoked_key_get_401_problems(client, session, world):
    for headers in ({}, bearer("wpk_nope"), {"Authorization": "Basic abc"}):
        answer = client.get("/api/v1/companies", headers=headers)
        assert answer.status_code == 401 and answer.content_type == PROBLEM
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        assert answer.json["status"] == 401 and answer.json["detail"]
    token = key(session)
    stored = session.scalars(select(api_keys.ApiKey)).one()
    api_keys.revoke_key(session, SYSTEM, stored)
    session.commit()
    assert client.get("/api/v1/companies", headers=bearer(token)).status_code == 401


def test_a_signed_in_browser_gets_nothing_from_the_api_and_a_key_nothing_from_pages(
    client, auth, session, world
):
    auth.login(world["admin"])
    answer = client.get("/api/v1/companies")
    assert answer.status_code == 401 and "Set-Cookie" not in answer.headers
    auth.logout()
    token = key(session, company=world["acme"])
    page = client.get(f"/c/{world['acme'].slug}/", headers=bearer(token))
    assert page.status_code == 302 and "/login" in page.headers["Location"]


def test_a_company_key_reaches_its_company_only(client, session, world):
    acme, globex = world["acme"], world["globex"]
    headers = bearer(key(session, company=acme))
    listed = client.get("/api/v1/companies", headers=headers).json
    assert [c["id"] for c in listed["data"]] == [acme.public_id]
    assert client.get(f"/api/v1/companies/{globex.public_id}", headers=headers).status_code == 404
    channels = client.get("/api/v1/channels", headers=headers).json["data"]
    assert len(channels) == 3 and {c["company"] for c in channels} == {acme.public_id}
    other = client.get(f"/api/v1/channels?company={globex.public_id}", headers=headers)
    assert other.status_code == 404 and other.content_type == PROBLEM
    globex_channel = session.scalar(
        select(health.Channel.id).where(health.Channel.company_id == globex.id).limit(1)
    )
    assert client.get(f"/api/v1/channels/{globex_channel}", headers=headers).status_code == 404


def test_a_platform_key_lists_every_company_a_page_at_a_time(client, session, world, make):
    for n in range(4):
        make.company(f"Extra {n}")
    headers = bearer(key(session))
    seen, cursor, pages = [], None, 0
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        answer = client.get(f"/api/v1/companies{query}", headers=headers).json
        seen += [c["id"] for c in answer["data"]]
        pages += 1
        cursor = answer["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and len(seen) == len(set(seen)) == 6
    bad = client.get("/api/v1/companies?cursor=not-ours", headers=headers)
    assert bad.status_code == 422 and bad.content_type == PROBLEM
    assert "cursor" in bad.json["errors"]["query"]
    too_many = client.get("/api/v1/companies?limit=1000", headers=headers)
    assert too_many.status_code == 422 and "limit" in too_many.json["errors"]["query"]


def test_channels_filter_as_on_the_fleet_page(client, session, world):
    headers = bearer(key(session))
    red = client.get("/api/v1/channels?quality_rating=RED", headers=headers).json["data"]
    assert len(red) == 2 and {c["quality_rating"] for c in red} == {"RED"}
    detail = client.get(f"/api/v1/channels/{red[0]['id']}", headers=headers).json
    assert detail["provider"] == "meta" and detail["history"][0]["quality_rating"] == "RED"
    bad = client.get("/api/v1/channels?provider=carrier-pigeon", headers=headers)
    assert bad.status_code == 422 and "provider" in bad.json["errors"]["query"]


def test_creating_a_company_needs_a_platform_key_with_write(client, session, world):
    body = {"name": "Initech"}
    read_only = client.post("/api/v1/companies", json=body, headers=bearer(key(session)))
    assert read_only.status_code == 403 and "'write'" in read_only.json["detail"]
    company_key = bearer(key(session, ("read", "write"), world["acme"]))
    refused = client.post("/api/v1/companies", json=body, headers=company_key)
    assert refused.status_code == 403 and "platform key" in refused.json["detail"]
    created = client.post("/api/v1/companies", json=body, headers=bearer(key(session, ("write",))))
    assert created.status_code == 201 and created.json["name"] == "Initech"
    assert created.json["id"].startswith("co_") and created.json["slug"] == "initech"
    entry = session.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "company.create", AuditEntry.target_label == "Initech"
        )
    ).one()
    assert entry.actor_email.startswith("api-key:wpk_")


def test_a_replayed_idempotency_key_returns_the_first_answer_and_creates_nothing_twice(
    client, session, world
):
    headers = {**bearer(key(session, ("read", "write"))), "Idempotency-Key": "create-initech-1"}
    first = client.post("/api/v1/companies", json={"name": "Initech"}, headers=headers)
    again = client.post("/api/v1/companies", json={"name": "Initech"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    assert session.scalar(select(func.count()).where(Company.name == "Initech")) == 1
    other = client.post("/api/v1/companies", json={"name": "Initrode"}, headers=headers)
    assert other.status_code == 422 and "another request" in other.json["detail"]


def test_a_failed_request_keeps_no_answer_so_its_retry_runs(client, session, world):
    headers = {**bearer(key(session, ("write",))), "Idempotency-Key": "k1"}
    taken = client.post("/api/v1/companies", json={"name": "Taken", "slug": world["acme"].slug},
                        headers=headers)  # fmt: skip
    assert taken.status_code == 400 and "taken by another company" in taken.json["detail"]
    retried = client.post("/api/v1/companies", json={"name": "Taken", "slug": "taken-ok"},
                          headers=headers)  # fmt: skip
    assert retried.status_code == 201  # the failed one kept nothing: the key is free
    assert retried.json["slug"] == "taken-ok"
    fresh = {**headers, "Idempotency-Key": "k2"}
    assert (
        client.post("/api/v1/companies", json={"name": "Taken"}, headers=fresh).status_code == 201
    )


def test_bad_bodies_are_problems_not_500s(client, session, world):
    headers = bearer(key(session, ("write",)))
    bodies = [(b"{", "application/json"), (b"[]", "application/json"),
              (b'{"name": 5}', "application/json"), (b"name=x", "text/plain")]  # fmt: skip
    for body, kind in bodies:
        answer = client.post("/api/v1/companies", data=body, content_type=kind, headers=headers)
        assert 400 <= answer.status_code < 500 and answer.content_type == PROBLEM, body
    patch = client.patch(f"/api/v1/companies/{world['acme'].public_id}",
                         json={"is_active": False}, headers=headers)  # fmt: skip
    assert patch.status_code == 200 and patch.json["is_active"] is False


def test_the_openapi_document_is_3_1_and_validates(client):
    from openapi_spec_validator import validate

    document = client.get("/api/v1/openapi.json").json
    assert document["openapi"] == "3.1.0"
    validate(document)
    assert {"/api/v1/companies", "/api/v1/channels/{channel_id}"} <= set(document["paths"])
    assert document["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    page = client.get("/api/v1/docs").get_data(as_text=True)
    assert "/api/v1/companies" in page and "<script>" not in page  # no inline script


def api_routes(app):
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if getattr(view, "access", None) == "api_key":
            yield rule, sorted(rule.methods - {"HEAD", "OPTIONS"})


def test_every_api_route_refuses_a_request_without_a_key(app, client, auth, world):
    auth.login(world["admin"])  # a session cookie opens nothing here
    found = 0
    for rule, methods in api_routes(app):
        url = rule.rule.replace("<string:company_id>", world["acme"].public_id)
        url = re.sub(r"<int:\w+>", "1", url)
        for method in methods:
            answer = client.open(url, method=method, json={})
            assert answer.status_code == 401, (method, url, answer.status_code)
            assert answer.content_type == PROBLEM
            found += 1
    assert found >= 5


def test_a_company_key_gets_404_for_every_row_of_another_company(app, client, session, make, world):
    globex = world["globex"]
    channel = session.scalar(
        select(health.Channel.id).where(health.Channel.company_id == globex.id).limit(1)
    )
    endpoint = platform_events.add_endpoint(
        session, SYSTEM, "https://globex.example/events", check_url=lambda url: None,
        company=globex,
    )  # fmt: skip
    health.observe(session, session.get(health.Channel, channel), source="sync", status="FLAGGED")
    delivery = session.scalars(select(EventDelivery)).one()
    member = accounts.set_membership(session, SYSTEM, make.user(), globex, Role.ADMIN)
    invitation, _ = invitations.invite(session, SYSTEM, globex, "x@globex.example", Role.MEMBER,
                                       link=str)  # fmt: skip
    link, _ = onboarding_links.create(session, SYSTEM, globex, ["meta"], check_url=str)
    session.commit()
    ids = {"channel_id": channel, "endpoint_id": endpoint.id, "delivery_id": delivery.id,
           "member_id": member.id, "invitation_id": invitation.id}  # fmt: skip
    ids |= foreign_rows(session, globex)  # numbers, senders, brands, runs
    headers = bearer(key(session, ("read", "write", "credentials"), world["acme"]))
    for rule, methods in api_routes(app):
        if not rule.arguments:
            continue
        url = rule.rule.replace("<string:company_id>", globex.public_id)
        url = url.replace("<string:link_id>", link.public_id)
        for name, value in ids.items():
            url = url.replace(f"<int:{name}>", str(value))
        assert "<" not in url, url
        for method in methods:
            answer = client.open(url, method=method, json={"name": "Hijacked"}, headers=headers)
            assert answer.status_code == 404, (method, url, answer.status_code)
    session.refresh(globex)
    session.refresh(delivery)
    assert globex.name == "Globex" and delivery.attempts == 0 and endpoint.disabled_at is None
    session.refresh(member)
    session.refresh(invitation)
    assert member.is_active and member.role is Role.ADMIN and invitation.revoked_at is None


def test_a_platform_registers_an_endpoint_and_follows_its_deliveries(
    app, client, session, world, monkeypatch
):
    import httpx

    from portal.jobs.events import deliver_events

    headers = bearer(key(session, ("read", "write")))
    created = client.post(
        "/api/v1/event-endpoints",
        json={"url": "https://platform.example/events", "event_types": ["channel.updated"]},
        headers=headers,
    )
    assert created.status_code == 201 and created.json["secret"].startswith("whsec_")
    endpoint_id = created.json["id"]
    listed = client.get("/api/v1/event-endpoints", headers=headers).json["data"]
    assert [e["id"] for e in listed] == [endpoint_id] and "secret" not in listed[0]
    channel = session.scalars(select(health.Channel)).first()
    health.observe(session, channel, source="sync", quality_rating="YELLOW")
    session.commit()
    answers = iter([httpx.Response(500), httpx.Response(200)])
    monkeypatch.setitem(
        app.config, "EVENTS_TRANSPORT", httpx.MockTransport(lambda r: next(answers))
    )
    with app.app_context():
        assert deliver_events()["failed"] == 1
    url = f"/api/v1/event-endpoints/{endpoint_id}/deliveries"
    (delivery,) = client.get(url, headers=headers).json["data"]
    assert (delivery["type"], delivery["status"], delivery["last_status_code"]) == (
        "channel.updated", "pending", 500,
    )  # fmt: skip
    replay = client.post(f"{url}/{delivery['id']}/replay", headers=headers)
    assert replay.status_code == 202
    with app.app_context():
        assert deliver_events()["delivered"] == 1
    (delivery,) = client.get(url, headers=headers).json["data"]
    assert delivery["status"] == "delivered" and delivery["attempts"] == 2
    bad = client.post("/api/v1/event-endpoints", json={"url": "ftp://x"}, headers=headers)
    assert bad.status_code == 400 and bad.content_type == PROBLEM


def test_send_credentials_need_their_scope_are_audited_and_never_cached(client, session, world):
    from provisioning.dialog360.models import Dialog360Channel, Dialog360Client
    from provisioning.meta.models import MetaWhatsAppClient, MetaWhatsAppPhoneNumber

    acme = world["acme"]
    channels = select(health.Channel).where(health.Channel.company_id == acme.id)
    meta_channel, bare, _ = session.scalars(channels.order_by(health.Channel.id)).all()
    d360_channel = health.upsert_channel(
        session, acme.id, Provider.DIALOG360, "ch-1", phone_number="+4915100000001"
    )
    waba = MetaWhatsAppClient(company_id=acme.id, waba_id="waba-1", access_token="EAAG-secret")
    d360 = Dialog360Client(company_id=acme.id, client_id="cl-1")
    session.add_all([waba, d360])
    session.flush()
    session.add_all([
        MetaWhatsAppPhoneNumber(
            company_id=acme.id, client_id=waba.id, channel_id=meta_channel.id,
            phone_number_id="pn-77",
        ),
        Dialog360Channel(
            company_id=acme.id, client_id=d360.id, channel_id=d360_channel.id,
            dialog_channel_id="ch-1", api_key="d360-secret",
        ),
    ])  # fmt: skip
    session.commit()
    reader = bearer(key(session, ("read",), acme))
    url = f"/api/v1/channels/{meta_channel.id}/credentials"
    refused = client.get(url, headers=reader)
    assert refused.status_code == 403 and "'credentials'" in refused.json["detail"]
    holder = bearer(key(session, ("credentials",), acme))
    answer = client.get(url, headers=holder)
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    assert answer.json == {
        "provider": "meta", "access_token": "EAAG-secret", "phone_number_id": "pn-77",
        "waba_id": "waba-1", "api_base_url": "",
    }  # fmt: skip
    d360_answer = client.get(f"/api/v1/channels/{d360_channel.id}/credentials", headers=holder)
    assert d360_answer.json["api_key"] == "d360-secret"
    not_ready = client.get(f"/api/v1/channels/{bare.id}/credentials", headers=holder)
    assert not_ready.status_code == 400 and "no send credentials yet" in not_ready.json["detail"]
    reads = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "channel.credentials_read")
    ).all()
    assert len(reads) == 2 and all(r.actor_email.startswith("api-key:") for r in reads)
    assert all("secret" not in str(r.details) for r in reads)
