"""The fleet dashboard: counts, filters, keyset pages, a constant number of queries, charts."""

from __future__ import annotations

import datetime as dt
import html
import itertools
import re
from contextlib import contextmanager

import pytest
from sqlalchemy import event, select

from portal.extensions import db
from provisioning import fleet
from provisioning.health import history, observe, upsert_channel
from provisioning.partners import Provider
from provisioning.sync import SyncRun
from provisioning.tenancy import Role

T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
_numbers = itertools.count(1)


def connect(session, company, provider=Provider.META, **fields):
    """A channel of the company, connected with these health values (GREEN 1K by default)."""
    n = next(_numbers)
    values = {"status": "CONNECTED", "quality_rating": "GREEN", "messaging_limit": "TIER_1K"}
    return upsert_channel(
        session,
        company.id,
        provider,
        f"ref-{provider.value}-{n}",
        phone_number=f"+1555{n:07d}",
        display_name=f"Line {n}",
        **{**values, **fields},
    )


def fleet_of(session, company, count, provider=Provider.META, **fields):
    channels = [connect(session, company, provider, **fields) for _ in range(count)]
    session.commit()
    return channels


@pytest.fixture
def world(make, session):
    """Two companies with a known mix of channels."""
    alpha, beta = make.company("Alpha"), make.company("Beta")
    fleet_of(session, alpha, 3)  # meta GREEN TIER_1K CONNECTED
    fleet_of(session, alpha, 2, Provider.DIALOG360, quality_rating="YELLOW")
    fleet_of(session, beta, 1, Provider.TWILIO, quality_rating="RED", messaging_limit="TIER_250")
    fleet_of(session, beta, 2, Provider.META, status="RESTRICTED", needs_reauthorization=True)
    return alpha, beta


def test_counts_group_the_filtered_fleet(session, world):
    alpha, _beta = world
    everything = fleet.counts(session, fleet.FleetFilter())
    assert everything.total == 8 and everything.needs_reauthorization == 2
    assert everything.by_provider == {Provider.META: 5, Provider.DIALOG360: 2, Provider.TWILIO: 1}
    assert everything.by_quality == {"GREEN": 5, "YELLOW": 2, "RED": 1}
    assert everything.by_status == {"CONNECTED": 6, "RESTRICTED": 2}
    assert everything.by_limit == {"TIER_250": 1, "TIER_1K": 7}
    meta = fleet.counts(session, fleet.FleetFilter(provider=Provider.META))
    assert meta.total == 5 and meta.by_status == {"CONNECTED": 3, "RESTRICTED": 2}
    own = fleet.counts(session, fleet.FleetFilter().within(alpha.id))
    assert own.total == 5 and own.needs_reauthorization == 0


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", 8),
        ("?provider=meta", 5),
        ("?quality=yellow", 2),
        ("?status=RESTRICTED", 2),
        ("?limit=TIER_250", 1),
        ("?reauth=1", 2),
        ("?company=alpha", 5),
        ("?company=beta&provider=meta&reauth=on", 2),
        ("?provider=twilio&quality=GREEN", 0),
    ],
)
def test_filters_choose_the_channels(client, auth, make, world, query, expected):
    auth.login(make.admin())
    page = client.get(f"/admin/fleet/{query}").get_data(as_text=True)
    assert len(re.findall(r"data-channel-id=", page)) == expected
    assert f'id="count-total">{expected}<' in page


def test_invalid_filters_are_ignored_with_a_message(client, auth, make, world):
    auth.login(make.admin())
    response = client.get(
        "/admin/fleet/?provider=whatsapp&quality=%3Cscript%3E&status=%3B%7C&reauth=maybe"
        "&company=nobody-here&after=abc"
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    for message in (
        "There is no provider “whatsapp”",
        "A quality rating is a word like GREEN",
        "That status cannot exist",
        "“Needs reauthorization” is on or off",
        "There is no company “nobody-here”",
        "That page does not exist",
    ):
        assert message in page
    assert "<script>" not in page
    assert len(re.findall(r"data-channel-id=", page)) == 8  # every filter dropped
    # a NUL is refused for the whole request, like anywhere (portal/input_checks.py)
    assert client.get("/admin/fleet/?status=%00").status_code == 400


def test_keyset_pages_walk_forward_and_back(session, make):
    company = make.company()
    ids = [c.id for c in fleet_of(session, company, 130)]
    meta_only = fleet.FleetFilter(company_id=company.id)
    seen, after, pages = [], None, []
    while True:
        page = fleet.channels_page(session, meta_only, after=after)
        pages.append(page)
        seen += [row.channel.id for row in page.rows]
        if page.next_after is None:
            break
        after = page.next_after
    assert seen == sorted(ids) and [len(p.rows) for p in pages] == [50, 50, 30]
    assert pages[0].prev_before is None and pages[2].prev_before == pages[2].rows[0].channel.id
    back = fleet.channels_page(session, meta_only, before=pages[2].prev_before)
    assert [r.channel.id for r in back.rows] == [r.channel.id for r in pages[1].rows]
    first = fleet.channels_page(session, meta_only, before=back.prev_before)
    assert [r.channel.id for r in first.rows] == sorted(ids)[:50]
    assert first.prev_before is None and first.next_after == sorted(ids)[49]


def _rel(page: str, rel: str) -> str | None:
    match = re.search(rf'rel="{rel}" href="([^"]+)"', page)
    return html.unescape(match[1]) if match else None


def test_pager_links_keep_the_filters(client, auth, make, session):
    company = make.company()
    fleet_of(session, company, 60, quality_rating="RED")
    fleet_of(session, company, 60, quality_rating="GREEN")
    auth.login(make.admin())
    url, shown = "/admin/fleet/?quality=RED", []
    while url:
        page = client.get(url).get_data(as_text=True)
        shown += re.findall(r'data-channel-id="(\d+)"', page)
        url = _rel(page, "next")
        assert url is None or "quality=RED" in url
    assert len(shown) == 60 == len(set(shown))
    previous = _rel(client.get(f"/admin/fleet/?quality=RED&after={shown[49]}").text, "prev")
    assert previous is not None and "quality=RED" in previous
    assert re.findall(r'data-channel-id="(\d+)"', client.get(previous).text) == shown[:50]


@contextmanager
def counted_queries(app):
    """Every SQL statement the app sends while the block runs."""
    with app.app_context():
        engine = db.engine
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_a_page_costs_the_same_queries_for_10_or_300_channels(app, client, auth, make, session):
    company = make.company()
    admin = make.admin()
    company_admin = make.user(company, Role.ADMIN)
    channels = fleet_of(session, company, 10)

    def costs() -> dict[str, int]:
        middle = channels[len(channels) // 2].id
        pages = {
            "first": "/admin/fleet/",
            "deep": f"/admin/fleet/?after={middle}",
            "back": f"/admin/fleet/?before={middle}",
            "filtered": f"/admin/fleet/?provider=meta&quality=GREEN&company={company.slug}",
            "channel": f"/admin/fleet/channels/{middle}",
        }
        found = {}
        auth.login(admin)
        for name, url in pages.items():
            with counted_queries(app) as statements:
                assert client.get(url).status_code == 200
            found[name] = len(statements)
        auth.logout()
        auth.login(company_admin)
        with counted_queries(app) as statements:
            assert client.get(f"/c/{company.slug}/fleet/").status_code == 200
        found["company"] = len(statements)
        auth.logout()
        return found

    small = costs()
    channels += fleet_of(session, company, 290)
    for channel in channels[:50]:  # longer histories must not cost more either
        observe(session, channel, source="sync", quality_rating="YELLOW")
    session.commit()
    large = costs()
    assert small == large
    assert max(large.values()) <= 8, large


def test_the_sync_panel_lists_the_latest_runs(client, auth, make, session):
    session.add(SyncRun(provider=Provider.DIALOG360, status="succeeded", calls=4, changed=17))
    session.commit()
    auth.login(make.admin())
    page = client.get("/admin/fleet/").get_data(as_text=True)
    panel = page[page.index('id="sync-runs"') :]
    assert "360dialog" in panel and "<td>4</td>" in panel and "<td>17</td>" in panel
    assert '<span class="badge ok">succeeded</span>' in panel


def degrade(session, channel):
    """GREEN 1K at T0 -> YELLOW -> RED with a lower limit -> GREEN, an hour apart."""
    history(session, channel)[0].observed_at = T0
    for hours, values in enumerate(
        (
            {"quality_rating": "YELLOW"},
            {"quality_rating": "RED", "messaging_limit": "TIER_250"},
            {"quality_rating": "GREEN"},
        ),
        start=1,
    ):
        observe(session, channel, source="webhook", at=T0 + dt.timedelta(hours=hours), **values)
    session.commit()


def test_the_channel_page_charts_its_history(client, auth, make, session):
    company = make.company()
    channel = connect(session, company)
    degrade(session, channel)
    auth.login(make.admin())
    page = client.get(f"/admin/fleet/channels/{channel.id}").get_data(as_text=True)
    assert '<title id="chart-title">' in page and '<desc id="chart-desc">' in page
    assert page.count('<circle class="quality"') == 4
    assert "Quality GREEN → YELLOW → RED → GREEN" in page
    assert "messaging limit TIER_1K → TIER_250" in page
    changes = page[page.index('id="history"') : page.index('id="alerts"')]
    assert changes.count("<tr>") == 5  # a header and four changes
    assert "2026-03-01 11:00 UTC" in changes and "webhook" in changes
    assert "from 2026-03-01 09:00 to 2026-03-01 12:00 UTC" in page
    alerts = page[page.index('id="alerts"') :]
    assert "quality rating dropped to YELLOW" in alerts
    assert "messaging limit dropped from TIER_1K to TIER_250" in alerts


def test_limits_sit_on_a_log_scale_and_unknown_limits_break_the_line():
    from portal.fleet import chart

    ys = [chart.limit_y(v) for v in (250, 1_000, 10_000, 100_000, float("inf"))]
    assert ys == sorted(ys, reverse=True)  # higher limits are drawn higher
    assert ys[1] - ys[2] == pytest.approx(ys[2] - ys[3])  # each tenfold step is as tall
    assert chart.limit_y(None) is None
    hour = dt.timedelta(hours=1)
    steps = [
        fleet.Step(T0, T0 + hour, "OK", "GREEN", "TIER_1K", 1e3, "sync"),
        fleet.Step(T0 + hour, T0 + 2 * hour, "OK", "GREEN", "", None, "sync"),
        fleet.Step(T0 + 2 * hour, T0 + 3 * hour, "OK", "RED", "TIER_250", 250.0, "sync"),
    ]
    drawn = chart.build(steps, "Line")
    assert drawn.limit_path.count("M") == 2  # the unknown hour is a gap
    assert drawn.quality_path.count("M") == 1 and drawn.quality_path.count("V") == 2


def test_companies_see_only_their_own_fleet(client, auth, make, session, world):
    alpha, beta = world
    beta_channel = session.scalars(fleet.FleetFilter(company_id=beta.id).channels().limit(1)).one()
    auth.login(make.user(alpha, Role.MEMBER))
    page = client.get(f"/c/{alpha.slug}/fleet/?company={beta.slug}").get_data(as_text=True)
    assert len(re.findall(r"data-channel-id=", page)) == 5 and 'id="count-total">5<' in page
    assert "Beta" not in page and 'id="sync-runs"' not in page
    assert client.get(f"/c/{beta.slug}/fleet/").status_code == 404
    assert client.get(f"/c/{alpha.slug}/fleet/channels/{beta_channel.id}").status_code == 404
    assert client.get(f"/admin/fleet/channels/{beta_channel.id}").status_code == 404
    assert client.get("/admin/fleet/").status_code == 404


def test_a_company_channel_page_shows_its_chart(client, auth, make, session):
    company = make.company()
    channel = connect(session, company, Provider.DIALOG360)
    degrade(session, channel)
    auth.login(make.user(company, Role.MEMBER))
    listing = client.get(f"/c/{company.slug}/fleet/").get_data(as_text=True)
    link = f"/c/{company.slug}/fleet/channels/{channel.id}"
    assert link in listing
    page = client.get(link).get_data(as_text=True)
    assert page.count('<circle class="quality"') == 4 and "Fleet health" not in page


def test_dashboards_link_to_the_fleet(client, auth, make, session):
    company = make.company()
    auth.login(make.admin())
    assert "/admin/fleet/" in client.get("/admin/").get_data(as_text=True)
    assert f"/c/{company.slug}/fleet/" in client.get(f"/c/{company.slug}/").get_data(as_text=True)


def test_only_platform_admins_queue_a_sync_now(app, client, auth, make, session, world):
    """A company's admin or member cannot queue the platform's sync; a platform admin can."""
    alpha, beta = world
    for company, role in ((alpha, Role.ADMIN), (beta, Role.MEMBER)):
        auth.login(make.user(company, role))
        page = f"/c/{company.slug}/fleet/"
        assert auth.post("/admin/fleet/sync", {}, form_page=page).status_code == 404
        auth.logout()
    assert session.scalars(select(SyncRun)).all() == []
    auth.login(make.admin())
    response = auth.post("/admin/fleet/sync", {}, form_page="/admin/fleet/")
    assert response.status_code == 302 and response.location.endswith("/admin/fleet/")
    app.extensions["job_runner"].drain()
    assert session.scalars(select(SyncRun)).all() != []
