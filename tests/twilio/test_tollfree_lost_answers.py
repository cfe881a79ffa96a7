"""A toll-free verification whose create answer is lost: Twilio holds one request.

The create is faulted with ``drop`` (Twilio acts, the answer is lost). The request is then
found by the ``ExternalReferenceId`` it was sent with: at once, or (when that lookup fails
too) by the next submission, never created twice.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from provisioning.errors import ProviderError
from provisioning.twilio import tollfree
from provisioning.twilio.tollfree_models import TollfreeVerification
from tests.twilio.test_tollfree import at_twilio, submit, world  # noqa: F401 (fixture)

CREATE = r"/messaging/v1/Tollfree/Verifications$"


def test_a_lost_answer_is_found_at_once(session, world):  # noqa: F811
    world.sandbox.faults.add("drop", provider="twilio", method="POST", path=CREATE, times=1)
    row = submit(session, world)
    assert row.status == "PENDING_REVIEW" and row.verification_sid
    assert [v["sid"] for v in at_twilio(world)] == [row.verification_sid]
    assert all(f.hits == f.times for f in world.sandbox.faults.list())


def test_a_lost_answer_whose_lookup_fails_is_found_next_time(session, world):  # noqa: F811
    faults = world.sandbox.faults
    faults.add("drop", provider="twilio", method="POST", path=CREATE, times=1)
    faults.add("server_error", provider="twilio", method="GET", path=CREATE, times=1)
    with pytest.raises(ProviderError):
        submit(session, world)
    row = session.scalars(select(TollfreeVerification)).one()
    assert row.status == "UNCONFIRMED" and row.verification_sid is None
    assert len(at_twilio(world)) == 1  # Twilio made it; we do not know yet
    again = submit(session, world)
    assert again.id == row.id and again.verification_sid == at_twilio(world)[0]["sid"]
    assert len(at_twilio(world)) == 1
    assert all(f.hits == f.times for f in faults.list())


def test_a_resubmission_whose_answer_is_lost_is_read_back(session, world):  # noqa: F811
    row = submit(session, world)
    world.sandbox.twilio.control_reject_tollfree(sid=row.verification_sid)
    tollfree.refresh(session, row, world.client)
    world.sandbox.faults.add("drop", provider="twilio", method="POST",
                             path=r"/Tollfree/Verifications/HH", times=1)  # fmt: skip
    fixed = submit(session, world, business_website="https://acme-dental.example.com/new")
    assert fixed.id == row.id and fixed.status == "PENDING_REVIEW"
    [remote] = at_twilio(world)
    assert remote["business_website"] == "https://acme-dental.example.com/new"
    assert all(f.hits == f.times for f in world.sandbox.faults.list())
