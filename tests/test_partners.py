"""Partner configurations through the admin UI: create, edit, toggle, delete, test, audit."""

from sqlalchemy import select

from provisioning.audit import AuditEntry
from provisioning.partners import PartnerConfiguration
from tests.test_crypto import PLANTED, meta_values


def create_meta(auth, **overrides):
    data = {"environment": "sandbox", "name": "Meta app"} | meta_values() | overrides
    return auth.post("/admin/partners/new/meta", data, form_page="/admin/partners/new/meta")


def test_admin_creates_a_meta_configuration_and_it_is_audited(client, auth, make, session):
    auth.login(make.admin())
    response = create_meta(auth)
    assert response.status_code == 302
    config = session.scalars(select(PartnerConfiguration)).one()
    assert config.value("app_secret") == PLANTED and config.is_enabled
    page = client.get("/admin/partners").get_data(as_text=True)
    assert PLANTED not in page and "(set)" in page
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "partner_configuration.create")
    ).one()
    assert entry.details["secrets_set"] == ["app_secret", "webhook_verify_token"]
    assert PLANTED not in str(entry.details)
    assert "partner_configuration.create" in client.get("/admin/audit").get_data(as_text=True)


def test_edit_form_never_renders_secrets_and_blank_keeps_them(client, auth, make, session):
    auth.login(make.admin())
    create_meta(auth)
    config = session.scalars(select(PartnerConfiguration)).one()
    url = f"/admin/partners/{config.id}"
    assert PLANTED not in client.get(url).get_data(as_text=True)
    values = meta_values("") | {"environment": "sandbox", "name": "Renamed", "app_id": "5555555"}
    assert auth.post(url, values, form_page=url).status_code == 302
    session.expire_all()
    assert config.value("app_secret") == PLANTED and config.value("app_id") == "5555555"
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "partner_configuration.update")
    ).one()
    assert entry.details["secrets_changed"] == [] and "app_id" in entry.details["changed"]
    values["app_secret"] = "a-new-secret"
    auth.post(url, values, form_page=url)
    session.expire_all()
    assert config.value("app_secret") == "a-new-secret"


def test_bad_input_shows_field_errors_with_400(client, auth, make, session):
    auth.login(make.admin())
    response = create_meta(auth, app_id="abc", graph_base_url="not a url", app_secret="")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Digits only." in html and "Enter a full http(s) URL." in html
    assert "This field is required." in html
    assert session.scalars(select(PartnerConfiguration)).all() == []


def test_one_configuration_per_provider_and_environment(auth, make, session):
    auth.login(make.admin())
    create_meta(auth)
    response = create_meta(auth)
    assert response.status_code == 400 and b"already exists" in response.data
    assert len(session.scalars(select(PartnerConfiguration)).all()) == 1


def test_cross_field_rule_for_360dialog(auth, make):
    auth.login(make.admin())
    url = "/admin/partners/new/dialog360"
    data = {
        "environment": "sandbox",
        "partner_id": "abcPA",
        "api_base_url": "https://hub.360dialog.io/api/v2",
        "hub_url": "https://hub.360dialog.com",
        "waba_base_url": "https://waba-v2.360dialog.io",
        "redirect_url": "https://portal.example.com/return",
    }
    response = auth.post(url, data, form_page=url)
    assert response.status_code == 400 and b"Give an API key" in response.data
    assert auth.post(url, data | {"api_key": "k"}, form_page=url).status_code == 302


def test_toggle_delete_and_unknown_provider(client, auth, make, session):
    auth.login(make.admin())
    create_meta(auth)
    config = session.scalars(select(PartnerConfiguration)).one()
    auth.post(f"/admin/partners/{config.id}/toggle", form_page="/admin/partners")
    session.expire_all()
    assert config.is_enabled is False
    assert client.get("/admin/partners/new/acme").status_code == 404
    auth.post(f"/admin/partners/{config.id}/delete", form_page="/admin/partners")
    assert session.scalars(select(PartnerConfiguration)).all() == []
    actions = set(session.scalars(select(AuditEntry.action)))
    assert {"partner_configuration.disable", "partner_configuration.delete"} <= actions


def test_test_connection_reports_an_unreachable_provider(client, auth, make, session):
    auth.login(make.admin())
    create_meta(auth)
    config = session.scalars(select(PartnerConfiguration)).one()
    response = auth.post(
        f"/admin/partners/{config.id}/check", form_page="/admin/partners", follow_redirects=True
    )
    assert response.status_code == 200
    assert b"Connection failed: the provider is not reachable" in response.data
    session.expire_all()
    assert config.last_check_ok is False
