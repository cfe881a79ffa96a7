"""``/api/v1/companies/{company_id}/members`` and ``.../invitations``: a company's team,
with the team page's rules (a company keeps an admin; nobody joins without accepting)."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate
from sqlalchemy.orm import selectinload

from provisioning import accounts, invitations
from provisioning.api_keys import Scope
from provisioning.errors import NotFound
from provisioning.invitations import CompanyInvitation
from provisioning.tenancy import Company, Membership, Role, tenant_select

from ..extensions import db
from ..invitations import send as send_invitation
from .auth import api_actor, api_key
from .idempotency import idempotent
from .pagination import PageArgs, page
from .providers import active, company_row, with_company

blp = Blueprint(
    "api_members", __name__, url_prefix="/api/v1/companies/<string:company_id>",
    description="A company's members and their roles, and its pending invitations.",
)  # fmt: skip

ROLES = [r.value for r in Role]


class MemberSchema(Schema):
    id = fields.Integer(dump_only=True, metadata={"description": "The membership's id."})
    email = fields.Function(lambda m: m.user.email, dump_only=True)
    name = fields.Function(lambda m: m.user.name, dump_only=True)
    role = fields.Function(lambda m: m.role.value, dump_only=True)
    created_at = fields.DateTime(dump_only=True)


class MemberUpdate(Schema):
    role = fields.String(required=True, validate=validate.OneOf(ROLES))


class MemberPage(Schema):
    data = fields.List(fields.Nested(MemberSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class InvitationSchema(Schema):
    id = fields.Integer(dump_only=True)
    email = fields.String(dump_only=True)
    role = fields.Function(lambda i: i.role.value, dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    expires_at = fields.DateTime(dump_only=True)


class InvitationCreate(Schema):
    email = fields.String(required=True, validate=validate.Length(1, 254))
    role = fields.String(load_default=Role.MEMBER.value, validate=validate.OneOf(ROLES))


class InvitationPage(Schema):
    data = fields.List(fields.Nested(InvitationSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


def _members(company: Company):
    """The company's current members (a removed one is gone until invited again)."""
    return (
        tenant_select(Membership, company.id)
        .where(Membership.is_active.is_(True))
        .options(selectinload(Membership.user))
    )


def _member(company: Company, member_id: int) -> Membership:
    member = db.session.scalars(_members(company).where(Membership.id == member_id)).first()
    if member is None:
        raise NotFound(f"member {member_id} not found")
    return member


@blp.route("/members")
class Members(MethodView):
    @api_key(Scope.READ)
    @with_company
    @blp.arguments(PageArgs, location="query", unknown=RAISE)
    @blp.response(200, MemberPage)
    def get(self, args, company: Company):
        """The company's members, oldest first."""
        items, cursor = page(db.session, _members(company), Membership.id, args["limit"],
                             args["cursor"])  # fmt: skip
        return {"data": items, "next_cursor": cursor}


@blp.route("/members/<int:member_id>")
class Member(MethodView):
    @api_key(Scope.READ)
    @with_company
    @blp.response(200, MemberSchema)
    def get(self, company: Company, member_id: int):
        """One member."""
        return _member(company, member_id)

    @api_key(Scope.WRITE)
    @with_company
    @blp.arguments(MemberUpdate)
    @blp.response(200, MemberSchema)
    def patch(self, values, company: Company, member_id: int):
        """Change a member's role; the company's last admin stays one (400)."""
        member = _member(company, member_id)
        return accounts.change_role(db.session, api_actor(), member, Role(values["role"]))

    @api_key(Scope.WRITE)
    @with_company
    @blp.response(204)
    def delete(self, company: Company, member_id: int):
        """Take a member out of the company (their account stays); never its last admin."""
        accounts.remove_member(db.session, api_actor(), _member(company, member_id))


@blp.route("/invitations")
class Invitations(MethodView):
    @api_key(Scope.READ)
    @with_company
    @blp.arguments(PageArgs, location="query", unknown=RAISE)
    @blp.response(200, InvitationPage)
    def get(self, args, company: Company):
        """The company's pending invitations (neither accepted, revoked nor expired)."""
        statement = invitations.open_invitations(company.id)
        items, cursor = page(db.session, statement, CompanyInvitation.id, args["limit"],
                             args["cursor"])  # fmt: skip
        return {"data": items, "next_cursor": cursor}

    @api_key(Scope.WRITE)
    @with_company
    @idempotent
    @blp.arguments(InvitationCreate)
    @blp.response(201, InvitationSchema)
    def post(self, values, company: Company):
        """Invite an e-mail address: the invitation e-mail goes out with its one-time link,
        which only the invitee gets. A pending invitation of the address is replaced."""
        invitation, _ = send_invitation(api_actor(), active(company), values["email"],
                                        Role(values["role"]))  # fmt: skip
        return invitation


@blp.route("/invitations/<int:invitation_id>")
class Invitation(MethodView):
    @api_key(Scope.WRITE)
    @with_company
    @blp.response(204)
    def delete(self, company: Company, invitation_id: int):
        """Revoke a pending invitation: its link stops working at once."""
        invitation = company_row(CompanyInvitation, company, invitation_id, "invitation")
        invitations.revoke(db.session, api_actor(), invitation)
