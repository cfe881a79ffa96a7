"""A person's browser on the portal: the Flask test client, every answer recorded."""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from html import unescape
from typing import Any

from flask import Flask
from werkzeug.test import TestResponse

from .harness import Answers

COOKIE = "portal_session"
DOMAIN = "portal.test"
_homes = itertools.count(1)


def home_address() -> str:
    """A client address of its own for each person: the people of the storm sign in at the
    same moment, which from one address the login throttle would (rightly) slow down."""
    n = next(_homes)
    return f"10.77.{n // 250}.{n % 250 + 1}"


class Browser:
    """One signed-in session. ``twin()`` is a second tab sending with the same cookie (a
    double submit: both requests carry the session as it was before either answer)."""

    def __init__(self, app: Flask, answers: Answers, address: str | None = None) -> None:
        self.app, self.answers = app, answers
        self.address = address or home_address()
        self.client = app.test_client()
        self.client.environ_base["REMOTE_ADDR"] = self.address

    def _seen(self, method: str, url: str, response: TestResponse) -> TestResponse:
        self.answers.record(method, url.split("?")[0], response.status_code)
        return response

    def get(self, url: str) -> TestResponse:
        return self._seen("GET", url, self.client.get(url))

    def post(self, url: str, data: dict | None = None, **kw: Any) -> TestResponse:
        return self._seen("POST", url, self.client.post(url, data=data, **kw))

    def post_json(self, url: str, body: dict | None, token: str) -> TestResponse:
        return self.post(url, json=body, headers={"X-CSRFToken": token})

    def login(self, email: str, password: str) -> None:
        """Sign in; told to wait (429: the company's other people signed in to the same
        account at that very moment), wait as asked and try again."""
        for _ in range(6):
            token = form_token(self.get("/login").get_data(as_text=True))
            form = {"email": email, "password": password, "csrf_token": token}
            answer = self.post("/login", form)
            if answer.status_code != 429:
                break
            time.sleep(min(int(answer.headers.get("Retry-After", "1")), 10))
        assert answer.status_code == 302, f"{email} could not sign in ({answer.status_code})"

    def twin(self) -> Browser:
        other = Browser(self.app, self.answers, self.address)
        cookie = self.client.get_cookie(COOKIE, domain=DOMAIN)
        if cookie is not None:
            other.client.set_cookie(COOKIE, cookie.value, domain=DOMAIN)
        return other

    def at_once(self, send: Callable[[Browser], TestResponse]) -> TestResponse:
        """``send`` from this tab and from a twin at the same moment (a double click);
        this tab's answer is returned, the twin's only recorded."""
        twin = self.twin()
        thread = threading.Thread(target=send, args=(twin,))
        thread.start()
        try:
            return send(self)
        finally:
            thread.join()


def text(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def form_token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, "no CSRF token on the page"
    return match.group(1)


def page_config(html: str) -> dict[str, Any]:
    """The launcher configuration a page hands its script (``data-config``)."""
    match = re.search(r"data-config='([^']+)'", html)
    assert match, "no launcher configuration on the page"
    return json.loads(unescape(match.group(1)))


def flashes(html: str) -> list[str]:
    return [unescape(m) for m in re.findall(r'<div class="flash \w+" role="status">([^<]*)<', html)]


def json_error(response: TestResponse) -> str:
    body = response.get_json(silent=True)
    return str(body.get("error", "")) if isinstance(body, dict) else ""
