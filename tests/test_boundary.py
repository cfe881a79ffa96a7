"""The request boundary: one commit per request, one answer per error (portal/boundary.py)."""

from __future__ import annotations

import pytest
from flask import Blueprint, Flask, flash, get_flashed_messages, redirect
from flask_migrate import upgrade
from sqlalchemy import event, func, select

from portal.access import public
from portal.boundary import checkpoint, errors_go_to
from portal.extensions import db
from provisioning.companies import Company
from provisioning.errors import AuthError, DomainError, InProgress, Rejected, Retryable


def _company(slug: str) -> Company:
    return Company(name=slug.title(), slug=slug)


@pytest.fixture
def app(scratch_app: Flask) -> Flask:
    """The scratch app with views that write a company and then succeed or fail."""
    scratch_app.config.update(TESTING=True, WTF_CSRF_ENABLED=False)
    bp = Blueprint("probe", __name__, url_prefix="/probe")

    @bp.route("/<slug>/ok", methods=["POST"])
    @public
    def ok(slug: str):
        db.session.add(_company(slug))
        flash("done", "success")
        return redirect("/probe/page"), 303

    @bp.route("/<slug>/refuse", methods=["POST"])
    @errors_go_to("probe.page")
    @public
    def refuse(slug: str):
        db.session.add(_company(slug))
        raise DomainError("That will not do.")

    @bp.route("/<slug>/intent", methods=["POST"])
    @errors_go_to(lambda: "/probe/page")
    @public
    def intent(slug: str):
        db.session.add(_company(slug))
        checkpoint()  # on record before the provider is called
        db.session.add(_company(f"{slug}-after"))
        raise Retryable("twilio", "no answer: ReadTimeout", retry_after=2.4)

    @bp.route("/provider/<kind>")
    @public
    def provider(kind: str):
        raise {
            "busy": InProgress("twilio", "The number is being bought right now."),
            "auth": AuthError("meta", "Invalid OAuth access token", 401, "190"),
            "rejected": Rejected("dialog360", "Invalid phone number", 400, "1001"),
        }[kind]

    @bp.route("/page")
    @public
    def page():
        return " | ".join(get_flashed_messages()) or "empty"

    scratch_app.register_blueprint(bp)
    upgrade()
    return scratch_app


def companies() -> list[str]:
    db.session.rollback()
    return list(db.session.scalars(select(Company.slug).order_by(Company.slug)))


def test_a_successful_answer_commits_once(app):
    commits = []

    def count(conn) -> None:
        commits.append(conn)

    event.listen(db.engine, "commit", count)
    try:
        response = app.test_client().post("/probe/acme/ok")
    finally:
        event.remove(db.engine, "commit", count)
    assert response.status_code == 303
    assert companies() == ["acme"]
    assert len(commits) == 1


def test_a_domain_error_rolls_back_and_is_flashed_on_the_named_page(app):
    client = app.test_client()
    response = client.post("/probe/acme/refuse")
    assert response.status_code == 303 and response.location == "/probe/page"
    assert client.get("/probe/page").text == "That will not do."
    assert companies() == []


def test_what_precedes_a_checkpoint_survives_a_provider_error_and_nothing_after_it(app):
    client = app.test_client()
    response = client.post("/probe/acme/intent")
    assert response.status_code == 303
    assert companies() == ["acme"]
    assert client.get("/probe/page").text == (
        "Twilio did not complete the request (no answer: ReadTimeout): try again in a moment."
    )


def test_scripts_get_the_error_as_json_with_its_status(app):
    client = app.test_client()
    response = client.post("/probe/acme/intent", json={})
    assert response.status_code == 429 and response.headers["Retry-After"] == "2"
    assert response.json == {
        "error": "Twilio did not complete the request (no answer: ReadTimeout): "
        "try again in a moment."
    }


@pytest.mark.parametrize(
    ("kind", "status", "message"),
    [
        ("busy", 429, "The number is being bought right now."),
        ("auth", 409, "Meta refused the credentials (Invalid OAuth access token)."),
        ("rejected", 400, "360dialog refused the request: Invalid phone number (code 1001)"),
    ],
)
def test_provider_errors_of_a_page_answer_with_the_error_page(app, kind, status, message):
    response = app.test_client().get(f"/probe/provider/{kind}")
    assert response.status_code == status
    assert message in response.text and "<html" in response.text


def test_a_unique_row_won_by_a_concurrent_request_is_a_409_not_a_500(app):
    db.session.add(_company("acme"))
    db.session.commit()
    response = app.test_client().post("/probe/acme/ok")
    assert response.status_code == 409
    assert "at the same moment" in response.text
    assert db.session.scalar(select(func.count()).select_from(Company)) == 1


def test_work_queued_by_a_request_runs_after_its_commit_and_never_after_a_rollback(app):
    from portal.boundary import after_commit

    seen: list[list[str]] = []
    bp = Blueprint("probe_jobs", __name__)

    @bp.route("/queue/<slug>/<outcome>", methods=["POST"])
    @public
    def queued(slug: str, outcome: str):
        db.session.add(_company(slug))
        after_commit(lambda: seen.append(companies()))
        if outcome == "fail":
            raise DomainError("no")
        return "ok"

    app.register_blueprint(bp)
    client = app.test_client()
    assert client.post("/queue/acme/fail").status_code == 400
    assert client.post("/queue/globex/ok").status_code == 200
    assert seen == [["globex"]]  # the committed row was visible to the queued work
