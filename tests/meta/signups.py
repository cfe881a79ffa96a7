"""A Meta Embedded Signup run to its end against the sandbox, for tests that start from a
connected WhatsApp account."""

from __future__ import annotations

from typing import Any

from portal.demo import META_APP
from provisioning import runs
from provisioning.audit import SYSTEM
from provisioning.meta.onboarding import EMBEDDED_SIGNUP
from provisioning.partners import Provider
from provisioning.runs import RunStatus


def complete_signup(app, session, sandbox, company, **choices: Any) -> dict[str, Any]:
    """Finish the popup with ``choices`` (``flow``, ``verified_name``...), run the signup to
    COMPLETED and apply what it queued; the popup's result."""
    signup = sandbox.meta.control_complete_signup(app_id=META_APP["app_id"], **choices)
    run = runs.start_run(
        session, SYSTEM, EMBEDDED_SIGNUP, company.id,
        partner_configuration_id=sandbox.configs[Provider.META].id,
        context={"event": signup["event"]}, secret_input={"code": signup["code"]},
    )  # fmt: skip
    session.commit()
    services = {"transport": sandbox.transport()}
    assert runs.execute(session, run.id, session.commit, services) is RunStatus.COMPLETED
    app.extensions["job_runner"].drain()
    return signup
