"""Partner configurations through the admin UI: create, edit (rotate), deactivate, delete,
test, audit; and what a configuration in use or deactivated means elsewhere."""

import hashlib
import hmac
import json
import threading

import pytest
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bench.fleet_seed import record_fleet, seed_fleet
from portal.demo import META_APP
from portal.extensions import db
from provisioning import companies, partner_usage, partners, runs
from provisioning.audit import SYSTEM, AuditEntry
from provisioning.meta.models import MetaWhatsAppClient
from provisioning.meta.onboarding import EMBEDDED_SIGNUP
from provisioning.partner_usage import referencing_columns, usage
from provisioning.partners import ConfigurationInUse, Environment, PartnerConfiguration, Provider
from provisioning.runs import ProvisioningRun
from provisioning.sync import SyncPolicy, sync_quality
from provisioning.tenancy import Role
from provisioning.twilio.models import TwilioSubaccount
from tests.conftest import csrf_token
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


def test_a_graph_version_without_portfolio_limits_is_refused(client, auth, make, session):
    """v24.0 is the first Graph version with the portfolio's messaging limit field."""
    auth.login(make.admin())
    response = create_meta(auth, graph_api_version="v23.0")
    assert response.status_code == 400
    assert "Use v24.0 or later" in response.get_data(as_text=True)
    assert session.scalars(select(PartnerConfiguration)).all() == []
    assert create_meta(auth, graph_api_version="v24.0").status_code == 302


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


def test_an_unknown_provider_is_404(client, auth, make):
    auth.login(make.admin())
    assert client.get("/admin/partners/new/acme").status_code == 404


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


# -- configurations in use: delete refused, rotation in place, deactivation ------------------
QUICK_SYNC = SyncPolicy(workers=2, page_size=5, backoff=0.01, max_pause=1.0, max_spacing=0.0)


@pytest.fixture
def in_use(connected_sandbox, make, session):
    """The three configurations, each used by two companies (2 numbers per WABA, client
    and subaccount) and recorded as the platform holds them."""
    sandbox = connected_sandbox(11)
    sandbox.record = True
    seeded = seed_fleet(
        sandbox, meta_app_id=META_APP["app_id"], wabas=2, numbers_per_waba=2,
        dialog360_clients=2, channels_per_client=2, twilio_subaccounts=2,
        senders_per_subaccount=2,
    )  # fmt: skip
    owners = [make.company(), make.company()]
    configs = {provider: config.id for provider, config in sandbox.configs.items()}
    record_fleet(session, seeded, [c.id for c in owners], configs)
    session.commit()
    sandbox.owners = owners
    return sandbox


def typed(auth, url: str, confirmation: str, **kw):
    return auth.post(url, {"confirmation": confirmation}, form_page=url, **kw)


def test_an_in_use_configuration_cannot_be_deleted(client, auth, make, session, in_use):
    auth.login(make.admin())
    config = in_use.configs[Provider.META]
    url = f"/admin/partners/{config.id}/delete"
    page = client.get(url).get_data(as_text=True)
    assert "cannot be deleted" in page and 'id="confirm-form"' not in page
    response = typed(auth, url, config.name)
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "2 companies: 2 WhatsApp Business accounts, 4 numbers" in html
    session.expire_all()
    assert session.get(PartnerConfiguration, config.id) is not None
    clients = session.scalars(select(MetaWhatsAppClient.partner_configuration_id)).all()
    assert clients == [config.id, config.id]
    actions = set(session.scalars(select(AuditEntry.action)))
    assert "partner_configuration.delete" not in actions


@pytest.mark.parametrize(
    ("provider", "words"),
    [
        (Provider.DIALOG360, "2 companies: 2 360dialog clients, 4 numbers"),
        (Provider.TWILIO, "2 companies: 2 Twilio subaccounts, 4 numbers"),
    ],
)
def test_every_provider_counts_what_uses_its_configuration(session, in_use, provider, words):
    config = in_use.configs[provider]
    assert usage(session, config).describe() == words
    with pytest.raises(ConfigurationInUse, match=words):
        partners.delete_configuration(session, SYSTEM, config)


def test_a_run_alone_keeps_a_configuration_in_use(session, make, connected_sandbox):
    sandbox = connected_sandbox(3, Provider.META)
    config = sandbox.configs[Provider.META]
    runs.start_run(session, SYSTEM, EMBEDDED_SIGNUP, make.company().id,
                   partner_configuration_id=config.id)  # fmt: skip
    session.commit()
    used = usage(session, config)
    assert (used.runs, used.runs_under_way, used.in_use) == (1, 1, True)
    assert used.describe() == "1 company: 1 onboarding run"


def test_every_reference_to_a_configuration_restricts_its_delete(session, in_use):
    """Every foreign key found in the schema, so a new table cannot orphan rows either."""
    columns = referencing_columns()
    assert {c.table.name for c in columns} >= {
        "meta_whatsapp_clients", "dialog_360_clients", "twilio_subaccounts",
        "provisioning_runs",
    }  # fmt: skip
    for column in columns:
        (fk,) = column.foreign_keys
        assert fk.ondelete == "RESTRICT", column
    config_id = in_use.configs[Provider.TWILIO].id
    with pytest.raises(IntegrityError), session.begin_nested():
        session.execute(delete(PartnerConfiguration).where(PartnerConfiguration.id == config_id))


def test_a_use_arriving_after_the_count_still_refuses_the_delete(session, in_use, monkeypatch):
    """An onboarding that commits between the count and the delete (the count missed
    it): the foreign key refuses the delete, and the answer names the uses."""
    config = in_use.configs[Provider.META]
    real = partner_usage.usage
    counts = iter([partner_usage.Usage(Provider.META)])  # the first count sees nothing
    monkeypatch.setattr(partner_usage, "usage", lambda s, c: next(counts, None) or real(s, c))
    with pytest.raises(ConfigurationInUse, match="2 WhatsApp Business accounts"):
        partners.delete_configuration(session, SYSTEM, config)
    session.rollback()
    assert session.get(PartnerConfiguration, config.id) is not None


def test_a_delete_racing_an_onboarding_refuses_instead_of_orphaning(scratch_app):
    """Real connections: an onboarding has written its run but not committed when the
    admin deletes. The delete waits for it (row lock on PostgreSQL, the write lock on
    SQLite), then counts the run and refuses; the run keeps its configuration."""
    from flask_migrate import upgrade

    upgrade()
    engine = db.engine
    with Session(engine) as setup:
        company = companies.create_company(setup, SYSTEM, "Racer")
        config = partners.create_configuration(
            setup, SYSTEM, Provider.META, Environment.SANDBOX, "", meta_values()
        )
        setup.commit()
        company_id, config_id = company.id, config.id
    onboarding = Session(engine)
    runs.start_run(onboarding, SYSTEM, EMBEDDED_SIGNUP, company_id,
                   partner_configuration_id=config_id)  # fmt: skip
    onboarding.flush()
    outcome: dict[str, str] = {}

    def delete() -> None:
        with Session(engine) as admin:
            try:
                config = admin.get(PartnerConfiguration, config_id)
                partners.delete_configuration(admin, SYSTEM, config)
                admin.commit()
                outcome["result"] = "deleted"
            except ConfigurationInUse as exc:
                outcome["result"] = str(exc)

    worker = threading.Thread(target=delete)
    worker.start()
    worker.join(0.5)  # let the delete reach the lock; the outcome does not depend on it
    onboarding.commit()
    onboarding.close()
    worker.join()
    assert "1 company: 1 onboarding run" in outcome["result"]
    with Session(engine) as check:
        assert check.get(PartnerConfiguration, config_id) is not None
        assert check.scalar(select(ProvisioningRun.partner_configuration_id)) == config_id


def test_an_unused_configuration_is_deleted_once_its_name_is_typed(client, auth, make, session):
    auth.login(make.admin())
    create_meta(auth)
    config = session.scalars(select(PartnerConfiguration)).one()
    url = f"/admin/partners/{config.id}/delete"
    assert "Nothing uses this configuration" in client.get(url).get_data(as_text=True)
    response = typed(auth, url, "meta app")
    assert response.status_code == 400 and b"to confirm." in response.data
    assert auth.post(url, form_page=url).status_code == 400
    assert session.scalars(select(PartnerConfiguration)).all() == [config]
    assert typed(auth, url, " Meta app ").status_code == 302
    assert session.scalars(select(PartnerConfiguration)).all() == []
    assert "partner_configuration.delete" in set(session.scalars(select(AuditEntry.action)))


def test_deactivation_shows_its_consequences_and_needs_the_typed_name(
    client, auth, make, session, in_use
):
    auth.login(make.admin())
    config = in_use.configs[Provider.META]
    url = f"/admin/partners/{config.id}/deactivate"
    page = client.get(url).get_data(as_text=True)
    assert "the 4 connected numbers of 2 companies stop syncing" in page
    assert "new onboardings through it are refused" in page
    assert "webhooks for it are still verified" in page
    assert typed(auth, url, "").status_code == 400
    assert typed(auth, url, "DEACTIVATE").status_code == 400
    session.expire_all()
    assert config.is_enabled
    assert typed(auth, url, config.name).status_code == 302
    session.expire_all()
    assert not config.is_enabled
    listing = client.get("/admin/partners").get_data(as_text=True)
    assert "deactivated" in listing and "In use by 2 companies" in listing
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "partner_configuration.deactivate")
    ).one()
    assert (entry.details["companies"], entry.details["numbers"]) == (2, 4)
    auth.post(f"/admin/partners/{config.id}/activate", form_page="/admin/partners")
    session.expire_all()
    assert config.is_enabled
    assert "partner_configuration.activate" in set(session.scalars(select(AuditEntry.action)))


def test_one_click_no_longer_deactivates(auth, make, session, in_use):
    auth.login(make.admin())
    config = in_use.configs[Provider.META]
    response = auth.post(f"/admin/partners/{config.id}/toggle", form_page="/admin/partners")
    assert response.status_code == 404
    session.expire_all()
    assert config.is_enabled


def test_other_users_cannot_reach_the_new_pages(client, auth, make, session, in_use, app):
    """A company admin (of a company using the configuration) and a member: 404, and the
    configuration is untouched (tests/test_access.py walks the same routes)."""
    company = in_use.owners[0]
    config = in_use.configs[Provider.META]
    for user in (make.user(company, Role.ADMIN), make.user(make.company(), Role.MEMBER)):
        auth.login(user)
        for path in ("deactivate", "delete"):
            url = f"/admin/partners/{config.id}/{path}"
            assert client.get(url).status_code == 404
            response = auth.post(url, {"confirmation": config.name}, form_page="/companies")
            assert response.status_code == 404
        activate = f"/admin/partners/{config.id}/activate"
        assert auth.post(activate, form_page="/companies").status_code == 404
        auth.logout()
    session.expire_all()
    assert config.is_enabled and session.get(PartnerConfiguration, config.id) is not None


def test_rotating_secrets_in_place_keeps_every_connected_number(
    client, auth, make, session, in_use
):
    auth.login(make.admin())
    config = in_use.configs[Provider.META]
    url = f"/admin/partners/{config.id}"
    page = client.get(url).get_data(as_text=True)
    assert "In use by 2 companies" in page and "credentials are rotated" in page
    values = {k: config.value(k) for k in META_APP} | {
        f.name: config.value(f.name) for f in config.spec.fields if not f.secret
    }
    values |= {"environment": "sandbox", "name": config.name, "app_secret": "rotated-secret"}
    assert auth.post(url, values, form_page=url).status_code == 302
    session.expire_all()
    assert config.value("app_secret") == "rotated-secret"
    assert set(session.scalars(select(MetaWhatsAppClient.partner_configuration_id))) == {config.id}
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "partner_configuration.rotate")
    ).one()
    assert entry.details["secrets_changed"] == ["app_secret"]
    assert "rotated-secret" not in str(entry.details)
    moved = auth.post(url, values | {"environment": "production"}, form_page=url)
    other_app = auth.post(url, values | {"app_id": "99999999"}, form_page=url)
    for response in (moved, other_app):
        assert response.status_code == 400 and b"this cannot change" in response.data
    session.expire_all()
    assert (
        config.environment == Environment.SANDBOX and config.value("app_id") == META_APP["app_id"]
    )


def test_two_saves_of_the_same_provider_and_environment_at_once(session, monkeypatch):
    """The second save checked before the first one committed: the unique constraint
    stops it, and it is told like the form check tells it (a 400, never a 500)."""
    first = PartnerConfiguration(provider=Provider.META, environment=Environment.SANDBOX,
                                 name="first", settings={}, secrets={})  # fmt: skip
    session.add(first)
    session.flush()
    original = partners._validate
    checks = iter([lambda *args: None])  # the first check ran before the other commit
    monkeypatch.setattr(partners, "_validate", lambda *a: next(checks, original)(*a))
    with pytest.raises(partners.ValidationFailed) as refused:
        partners.create_configuration(
            session, SYSTEM, Provider.META, Environment.SANDBOX, "", meta_values()
        )
    assert "already exists" in refused.value.errors["environment"]
    assert session.scalars(select(PartnerConfiguration)).all() == [first]


# -- what a deactivated configuration means to companies, syncs and webhooks -----------------
def deactivate(session, config) -> None:
    partners.deactivate_configuration(session, SYSTEM, config)
    session.commit()


def test_a_deactivated_configuration_refuses_new_onboarding_in_plain_words(
    client, auth, make, session, in_use
):
    company = in_use.owners[0]
    for provider in (Provider.META, Provider.DIALOG360, Provider.TWILIO):
        deactivate(session, in_use.configs[provider])
    auth.login(make.user(company, Role.ADMIN))
    page = client.get(f"/c/{company.slug}/connect/meta", follow_redirects=True)
    assert b"onboarding is paused by the platform" in page.data
    token = csrf_token(client, f"/c/{company.slug}/")
    launch = client.post(
        f"/c/{company.slug}/connect/meta/launch", json={}, headers={"X-CSRFToken": token}
    )
    assert launch.status_code == 409 and "paused" in launch.get_json()["error"]
    page = client.get(f"/c/{company.slug}/connect/360dialog", follow_redirects=True)
    assert b"onboarding is paused by the platform" in page.data
    numbers = client.get(f"/c/{company.slug}/numbers/")
    assert numbers.status_code == 200  # what the company holds is still shown
    buy = auth.post(f"/c/{company.slug}/numbers/buy", {"phone_number": "+15005550006"},
                    form_page=f"/c/{company.slug}/numbers/", follow_redirects=True)  # fmt: skip
    assert b"paused by the platform" in buy.data
    assert client.get(f"/c/{company.slug}/a2p/").status_code == 200


def test_syncs_skip_a_deactivated_configuration_with_the_reason(session, in_use):
    deactivate(session, in_use.configs[Provider.META])
    deactivate(session, in_use.configs[Provider.DIALOG360])
    before = len(in_use.exchanges)
    passes = sync_quality(session, session.commit, transport=in_use.transport(), policy=QUICK_SYNC)
    meta, dialog360, twilio = sorted(passes, key=lambda run: list(Provider).index(run.provider))
    assert (meta.status, meta.calls, dialog360.status, dialog360.calls) == (
        "skipped", 0, "skipped", 0,
    )  # fmt: skip
    (note,) = meta.errors
    assert note["target"] == "2 skipped" and "is deactivated" in note["error"]
    assert (twilio.status, twilio.changed) == ("succeeded", 4)
    assert {e["provider"] for e in in_use.exchanges[before:]} == {"twilio"}


def test_webhooks_of_a_deactivated_configuration_are_still_stored(client, session, in_use):
    from provisioning.events import WebhookEvent
    from provisioning.meta.webhooks import signature_valid

    config = in_use.configs[Provider.META]
    deactivate(session, config)
    body = json.dumps({"object": "whatsapp_business_account", "entry": [
        {"id": "1", "time": 1, "changes": [{"field": "account_update", "value": {}}]}
    ]}).encode()  # fmt: skip
    signature = "sha256=" + hmac.new(config.value("app_secret").encode(), body,
                                     hashlib.sha256).hexdigest()  # fmt: skip
    assert signature_valid(config.value("app_secret"), body, signature)
    response = client.post("/webhooks/meta", data=body, headers={
        "X-Hub-Signature-256": signature, "Content-Type": "application/json"})  # fmt: skip
    assert response.status_code == 200
    assert session.scalars(select(WebhookEvent.provider)).all() == [Provider.META]


def test_platform_admins_still_manage_what_exists_through_a_deactivated_one(
    auth, make, session, in_use
):
    deactivate(session, in_use.configs[Provider.TWILIO])
    sub = session.scalars(select(TwilioSubaccount).order_by(TwilioSubaccount.id)).first()
    auth.login(make.admin())
    auth.post(f"/admin/twilio/subaccounts/{sub.id}/suspended", form_page="/admin/twilio/")
    session.refresh(sub)
    assert sub.status == "suspended"
