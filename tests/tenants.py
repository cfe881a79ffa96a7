"""Companies with one row of every kind a route takes an id of, marked with canary strings.

Security tests build two of these (an attacker's company and a victim's) and send every
route the victim's ids: a canary in an answer is a leak, a changed victim row is an
unauthorised change (``rows_of``). The rows are made by the domain services where they
are cheap (the Twilio subaccount and number through the sandbox) and directly otherwise.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from sqlalchemy import MetaData, select

from provisioning import accounts, api_keys, companies, health, runs, tokens
from provisioning.audit import SYSTEM
from provisioning.dialog360.models import Dialog360Channel, Dialog360Client
from provisioning.events import store_event
from provisioning.meta import registration
from provisioning.meta.models import MetaWhatsAppClient, MetaWhatsAppPhoneNumber
from provisioning.meta.onboarding import EMBEDDED_SIGNUP
from provisioning.partners import Provider
from provisioning.templates import core as template_core
from provisioning.templates.models import MessageTemplate
from provisioning.tenancy import Company, Membership, Role, User
from provisioning.twilio import a2p, numbers
from provisioning.twilio.models import RegulatoryBundle, TwilioWhatsAppSender
from tests.twilio.test_a2p import PROFILE  # the business profile the A2P tests submit


@dataclass
class Tenant:
    company: Company
    admin: User
    member: User
    # Strings only this company's pages (and platform admins') may show.
    canaries: list[str] = field(default_factory=list)
    # URL argument name -> ids of this company's rows (one name may mean several tables).
    ids: dict[str, list[int]] = field(default_factory=dict)
    invitation: str = ""  # a pending invitation's token
    events_token: str = ""  # its Twilio Event Streams sink token
    subaccount_token: str = ""  # its Twilio subaccount's auth token (signs its webhooks)
    channel_token: str = ""  # its 360dialog channel's messaging webhook secret

    def first_ids(self) -> dict[str, int]:
        return {name: values[0] for name, values in self.ids.items()}


def populate(session, make, sandbox, slug: str) -> Tenant:
    """A company called ``slug`` with a member, an admin and a row of every kind."""
    mark = f"CANARY{slug.upper()}{secrets.token_hex(4)}"
    secret = f"SECRET{slug.upper()}{secrets.token_hex(6)}"
    company = companies.create_company(session, SYSTEM, f"{slug.title()} {mark}", slug)
    session.commit()
    # The admin's address is what an attacker would guess and type: no canary in it.
    admin = make.user(company, Role.ADMIN, email=f"{slug}-admin@example.com")
    member = make.user(company, Role.MEMBER, email=f"{slug}-member-{mark.lower()}@example.com")
    invited, invitation = accounts.add_member(
        session, SYSTEM, company, f"{slug}-invited-{mark.lower()}@example.com", mark, Role.MEMBER
    )
    suffix = str(sum(map(ord, slug)) % 1000).zfill(3)

    waba = MetaWhatsAppClient(
        company_id=company.id, waba_id=f"waba-{slug}", name=mark, access_token=f"{secret}-token"
    )
    session.add(waba)
    session.flush()
    channel = health.upsert_channel(
        session, company.id, Provider.META, f"pn-{slug}", phone_number=f"+1555{suffix}0001",
        display_name=mark, status="CONNECTED", quality_rating="GREEN", messaging_limit="TIER_1K",
    )  # fmt: skip
    meta_number = MetaWhatsAppPhoneNumber(
        company_id=company.id,
        client_id=waba.id,
        channel_id=channel.id,
        phone_number_id=f"pn-{slug}",
        display_phone_number=channel.phone_number,
        verified_name=mark,
        pin=f"{secret}-pin"[-6:],
    )
    session.add(meta_number)
    registration_run = runs.start_run(
        session, SYSTEM, registration.FLOW, company.id,
        context={"note": mark, "number_key": f"pn-{slug}", "phone_number_ids": [f"pn-{slug}"]},
        secret_input={"code": f"{secret}-code"},
    )  # fmt: skip
    health.upsert_channel(session, company.id, Provider.META, f"pn-{slug}", quality_rating="RED")
    run = runs.start_run(
        session, SYSTEM, EMBEDDED_SIGNUP, company.id,
        context={"note": mark}, secret_input={"code": f"{secret}-code"},
    )  # fmt: skip

    d360_client = Dialog360Client(
        company_id=company.id, client_id=f"cl-{slug}", name=mark,
        partner_payload=company.public_id,
        partner_configuration_id=sandbox.configs[Provider.DIALOG360].id,
    )  # fmt: skip
    session.add(d360_client)
    session.flush()
    channel_token, channel_token_digest = tokens.new_token()
    d360_channel = Dialog360Channel(
        company_id=company.id, client_id=d360_client.id, dialog_channel_id=f"ch-{slug}",
        phone_number=f"+1555{suffix}0002", phone_name=mark, api_key=f"{secret}-api-key",
        webhook_token_digest=channel_token_digest,
    )  # fmt: skip
    session.add(d360_channel)

    config = sandbox.configs[Provider.TWILIO]
    sub = numbers.ensure_subaccount(
        session, SYSTEM, company, config, sandbox.transport(), commit=session.commit
    )
    master = numbers.subaccount_client(sub, config, sandbox.transport())
    offered = numbers.search_numbers(master, "US", "local", contains=suffix)
    number = numbers.buy_number(
        session, SYSTEM, company, sub, master, offered[0]["phone_number"], session.commit
    )
    sender = TwilioWhatsAppSender(
        company_id=company.id, subaccount_id=sub.id, sender_id=f"whatsapp:+1555{suffix}0003",
        sender_sid="XE" + secrets.token_hex(16), waba_id=f"waba-{slug}", profile_name=mark,
        status="ONLINE",
    )  # fmt: skip
    session.add(sender)
    a2p.save_business_info(session, SYSTEM, company, PROFILE | {"legal_business_name": mark})
    brand = a2p.submit_brand(session, SYSTEM, company, config)
    bundle = RegulatoryBundle(
        company_id=company.id, iso_country="DE", number_type="local", end_user_type="business",
        regulation_sid="RN" + "0" * 32, friendly_name=f"Bundle {mark}", email=f"{slug}@x.test",
        status="twilio-approved", bundle_sid="BU" + secrets.token_hex(16),
        end_user_attributes={"business_name": mark},
    )  # fmt: skip
    session.add(bundle)
    event_id = store_event(
        session, Provider.META, f"{slug}-event", "account_update",
        f'{{"entry": [{{"id": "waba-{slug}", "note": "{mark}"}}]}}'.encode(),
    )  # fmt: skip
    key, _ = api_keys.create_key(session, SYSTEM, mark, ["read", "write"], company)
    template_account = template_core.ensure_account(session, company.id, "meta", waba.waba_id)
    template = MessageTemplate(
        company_id=company.id, account_id=template_account.id, name=f"order_{slug}",
        language="en_US", category="UTILITY", status="REJECTED", rejected_reason="SCAM",
        components=[{"type": "BODY", "text": f"Hello {mark}"}],
    )  # fmt: skip
    session.add(template)
    session.flush()
    health.raise_template_alert(session, company.id, template.id, f"Template {mark} rejected")
    session.commit()

    memberships = session.scalars(select(Membership.id).where(Membership.company_id == company.id))
    notifications = session.scalars(
        select(health.Notification.id).where(health.Notification.user_id == admin.id)
    )
    return Tenant(
        company=company,
        admin=admin,
        member=member,
        canaries=[mark, mark.lower(), secret, sub.auth_token, sub.events_token()],
        ids={
            "company_id": [company.id],
            "membership_id": list(memberships),
            "channel_id": [channel.id, d360_channel.id],
            "run_id": [run.id, brand.run_id],
            "brand_id": [brand.id],
            "registration_id": [registration_run.id],
            "wa_number_id": [meta_number.id],
            "number_id": [number.id],
            "sender_id": [sender.id],
            "sub_id": [sub.id],
            "user_id": [admin.id, member.id, invited.id],
            "notification_id": list(notifications),
            "event_id": [event_id],
            "key_id": [key.id],
            "template_id": [template.id],
            "bundle_id": [bundle.id],
            "account": [template_account.id],
        },
        invitation=invitation or "",
        events_token=sub.events_token(),
        subaccount_token=sub.auth_token,
        channel_token=channel_token,
    )


class Rows:
    """Every row that belongs to a tenant, column by column: its company's rows, its
    users', and the rows that point at one of those (through the foreign keys, found
    transitively). Comparing two readings shows what changed, appeared or went."""

    def __init__(self, session) -> None:
        self.session = session
        self.meta = MetaData()
        self.meta.reflect(session.connection())

    def owned(self, tenant: Tenant) -> dict[str, set[int]]:
        users = select(Membership.user_id).where(Membership.company_id == tenant.company.id)
        owned = {"companies": {tenant.company.id}, "users": set(self.session.scalars(users))}
        grown = True
        while grown:
            grown = False
            for table in self.meta.sorted_tables:
                for fk in table.foreign_keys if "id" in table.c else ():
                    targets = owned.get(fk.column.table.name)
                    if not targets:
                        continue
                    found = set(
                        self.session.scalars(select(table.c.id).where(fk.parent.in_(targets)))
                    )
                    if not found <= owned.setdefault(table.name, set()):
                        owned[table.name] |= found
                        grown = True
        return owned

    def of(self, tenant: Tenant) -> dict[str, dict[int, tuple]]:
        snapshot: dict[str, dict[int, tuple]] = {}
        for name, ids in self.owned(tenant).items():
            table = self.meta.tables[name]
            rows = self.session.execute(select(table).where(table.c.id.in_(ids)))
            snapshot[name] = {row.id: tuple(row) for row in rows}
        return snapshot


def changes(before: dict, after: dict) -> list[str]:
    """Rows changed, gone or new between two readings of ``Rows.of``, as table:id."""
    return [
        f"{table}:{ident}"
        for table in sorted(set(before) | set(after))
        for ident in sorted(set(before.get(table, {})) | set(after.get(table, {})))
        if before.get(table, {}).get(ident) != after.get(table, {}).get(ident)
    ]
