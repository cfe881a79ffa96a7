"""The demo: its data, its logins, and a sandbox that answers the demo configurations."""

from sqlalchemy import select

from portal import demo
from provisioning.partners import PartnerConfiguration


def test_demo_seed_creates_working_logins_once(app, client, auth, session):
    with app.app_context():
        assert demo.seed_database("http://sandbox.test", "http://portal.test") is True
        assert demo.seed_database("http://sandbox.test", "http://portal.test") is False
    assert len(session.scalars(select(PartnerConfiguration)).all()) == 3
    assert auth.login(demo.ADMIN_EMAIL, demo.DEMO_PASSWORD).headers["Location"] == "/"
    assert client.get("/admin/partners").status_code == 200
    auth.logout()
    auth.login("owner@acme.example", demo.DEMO_PASSWORD)
    assert client.get("/").headers["Location"].endswith("/c/acme-retail/")
