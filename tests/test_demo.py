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


def test_seeding_leaves_no_session_open(app, session):
    """``demo run`` serves for hours after seeding: its session must not keep a transaction."""
    from portal.extensions import db

    with app.app_context():
        for _ in range(2):  # creating, then finding the data
            demo.seed_database("http://sandbox.test", "http://portal.test")
            assert not db.session.registry.has()


def test_a_restart_on_other_ports_points_the_demo_configurations_there(app, session):
    with app.app_context():
        demo.seed_database("http://127.0.0.1:5001", "http://127.0.0.1:5000")
        demo.seed_database("http://127.0.0.1:8001", "http://127.0.0.1:8000")
    urls = [
        value
        for config in session.scalars(select(PartnerConfiguration))
        for key, value in config.settings.items()
        if key.endswith("_url") and value
    ]
    assert urls and all(":8001/" in url or ":8000/" in url for url in urls), urls
