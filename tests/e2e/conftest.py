"""Browser tests: the demo (portal + sandbox) on real ports, driven by Debian's chromium."""

from __future__ import annotations

import random
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from portal import create_app, demo
from portal.extensions import db
from portal.sandbox_seed import seed_sandbox, speed_up_for_a_live_demo
from provisioning.crypto import Keyring
from provisioning.sandbox import Sandbox
from provisioning.sandbox.outbound import LoopbackTransport
from provisioning.sandbox.server import serve

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


EPHEMERAL_RANGE = "/proc/sys/net/ipv4/ip_local_port_range"


def free_port() -> int:
    """A port nothing listens on, below the kernel's ephemeral range: a port the kernel
    picked (bind to 0) and let go could be given to an outgoing connection (to
    PostgreSQL, Redis...) before the server binds it, which then fails."""
    try:
        first_ephemeral = int(Path(EPHEMERAL_RANGE).read_text().split()[0])
    except OSError:  # not Linux: every system starts its range at 32768 or above
        first_ephemeral = 32768
    ports = list(range(max(1024, first_ephemeral - 12_000), first_ephemeral))
    random.shuffle(ports)
    for port in ports:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below the ephemeral range")


@pytest.fixture
def live_demo(scratch_database_url: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The demo on two free ports: ``{"portal": url, "sandbox": url}``."""
    from flask_migrate import upgrade

    portal_port, sandbox_port = free_port(), free_port()
    portal_url = f"http://127.0.0.1:{portal_port}"
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": scratch_database_url,
            "SECRET_KEY": "e2e",
            "KEYRING": Keyring.generate(),
            "INSTANCE_PATH": str(tmp_path),
            "PUBLIC_BASE_URL": portal_url,
            "SANDBOX_URL": sandbox_url,
        }
    )
    with app.app_context():
        upgrade()
        demo.seed_database(sandbox_url, portal_url)
    sandbox = Sandbox(seed=11, base_url=sandbox_url, outbound_transport=LoopbackTransport())
    seed_sandbox(sandbox, portal_url)
    speed_up_for_a_live_demo(sandbox)
    sandbox_server = serve(sandbox, "127.0.0.1", sandbox_port)
    portal_server = make_server("127.0.0.1", portal_port, app, threaded=True)
    threading.Thread(target=portal_server.serve_forever, daemon=True).start()
    app.extensions["job_runner"].start_poller()  # the periodic jobs, as `flask demo run` does
    try:
        yield {"portal": portal_url, "sandbox": sandbox_url, "sandbox_obj": sandbox}
    finally:
        app.extensions["job_runner"].stop()
        portal_server.shutdown()
        sandbox_server.shutdown()
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def fill_form(page, values: dict[str, str], selects=()) -> None:
    """Type each value into the field of that id (chosen, for the ids in ``selects``)."""
    for name, value in values.items():
        if name in selects:
            page.select_option(f"#{name}", value)
        else:
            page.fill(f"#{name}", value)


def login(page, base: str, email: str, password: str = demo.DEMO_PASSWORD) -> None:
    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("button[type=submit]")


# Every page of the context reports the CSP violations the browser raises (the listener is
# added by the browser itself, ahead of the page, so the page's own CSP does not stop it).
REPORT_CSP_VIOLATIONS = """
document.addEventListener('securitypolicyviolation', function (e) {
  console.error('CSP violation: ' + e.effectiveDirective + ' blocked ' + (e.blockedURI || 'inline')
    + ' on ' + e.documentURI);
});
"""


def watch_csp(page) -> list[str]:
    """The CSP violations in ``page``'s context (its popups too), as they happen."""
    violations: list[str] = []

    def on_console(message) -> None:
        text = message.text
        if text.startswith("CSP violation") or "Content Security Policy" in text:
            violations.append(text)

    page.context.add_init_script(REPORT_CSP_VIOLATIONS)
    page.context.on("console", on_console)
    return violations
