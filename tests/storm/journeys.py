"""What people do in the storm: the clicks of a company admin, per provider.

Each journey goes through the pages a person uses, and does what a person does when
something goes wrong: a failed run gets its Retry button clicked (a few times), a form
answered with an error is sent again after a moment, a signup whose code is spent is
started over from the provider's popup (choosing the same business, account and number),
and now and then a button is clicked twice at once.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

from werkzeug.test import TestResponse

from .browser import Browser, flashes, form_token, json_error, page_config, text
from .harness import PASSWORD, Storm

DOUBLE_CLICKS = 0.15  # share of submits sent twice at once
RETRIES = 3  # Retry clicks a person makes on a failed run
RESUBMITS = 6  # times a person sends a refused form again
START_AGAIN = re.compile(r"(?i)connect again|start the signup again|start again")
STATUS = re.compile(r'id="run-status">([^<]+)<')
RUN_ERROR = re.compile(r'id="run-error">([^<]*)<')
RUN_LINK = re.compile(r'href="(/c/[^"]+/runs/\d+)" id="return-continue"')
PROGRESS = re.compile(r'<a href="(/c/[^"]+/runs/\d+)">progress</a>')
OFFERED = re.compile(r'name="phone_number" value="(\+\d+)"')
AREAS = ("415", "212", "312", "512", "206", "305", "617", "303")


@dataclass
class Outcome:
    journey: str
    company: str
    status: str = "not started"
    messages: list[str] = field(default_factory=list)  # what the person was told
    started: float = field(default_factory=time.monotonic)
    seconds: float = 0.0


class Person:
    """A company's admin, signed in on a browser of their own."""

    def __init__(self, storm: Storm, index: int, rng: random.Random) -> None:
        company = storm.companies[index]
        self.storm, self.rng = storm, rng
        self.slug, self.public_id = company.slug, company.public_id
        self.base = f"/c/{company.slug}"
        self.browser = Browser(storm.app, storm.answers)
        self.browser.login(company.admin_email, PASSWORD)

    def think(self) -> None:
        time.sleep(self.rng.uniform(0.05, 0.3))

    def send(self, method: str, *args: Any) -> TestResponse:
        """Submit (``Browser.post`` or ``post_json``) once, or now and then twice at once
        (a double click)."""

        def request(browser: Browser) -> TestResponse:
            return getattr(browser, method)(*args)

        if self.rng.random() < DOUBLE_CLICKS:
            return self.browser.at_once(request)
        return request(self.browser)

    def follow(self, run_url: str, outcome: Outcome) -> str:
        """Watch the run page until the run ends; click Retry when it failed."""
        retries, deadline = 0, time.monotonic() + self.storm.size.patience
        while time.monotonic() < deadline:
            page = text(self.browser.get(run_url))
            status = STATUS.search(page).group(1).replace(" ", "_")
            if status == "failed" and retries < RETRIES and not START_AGAIN.search(page):
                retries += 1
                self.think()
                self.send("post", f"{run_url}/retry", {"csrf_token": form_token(page)})
                continue
            if status in ("completed", "failed", "cancelled"):
                if status == "failed":
                    said = RUN_ERROR.search(page)
                    outcome.messages.append(unescape(said.group(1)) if said else "")
                return status
            time.sleep(0.3)
        return "watched until the person left"


def meta(person: Person) -> Outcome:
    """Connect WhatsApp with Meta's Embedded Signup."""
    outcome = Outcome("meta", person.slug)
    choices: dict[str, str] = {}
    for _ in range(RESUBMITS):
        config = page_config(text(person.browser.get(f"{person.base}/connect/meta")))
        token = config["csrf"]
        state = person.browser.post_json(config["launchUrl"], None, token).get_json()["state"]
        signup = person.storm.popup("meta", "complete_signup", app_id=config["appId"], **choices)
        choices = {k: signup[k] for k in ("business_id", "waba_id", "phone_number_id")}
        body = {"state": state, "code": signup["code"], "event": signup["event"]}
        answer = person.send("post_json", config["completeUrl"], body, token)
        if answer.status_code != 200:
            outcome.messages.append(json_error(answer))
            continue
        outcome.status = person.follow(answer.get_json()["run_url"], outcome)
        if outcome.status != "failed" or not START_AGAIN.search(outcome.messages[-1]):
            return outcome
    return outcome


def dialog360(person: Person) -> Outcome:
    """Connect a number with 360dialog's Integrated Onboarding."""
    outcome = Outcome("dialog360", person.slug)
    config = page_config(text(person.browser.get(f"{person.base}/connect/360dialog")))
    launched = person.browser.post_json(config["launchUrl"], None, config["csrf"]).get_json()
    query = {k: v[0] for k, v in parse_qs(urlsplit(launched["url"]).query).items()}
    hub = person.storm.popup(
        "dialog360", "complete_onboarding",
        numbers=[person.storm.new_dialog360_number()], partner_payload=query["partner"],
        email=query["email"], redirect_url=query["redirect_url"], state=query["state"],
    )  # fmt: skip
    back = urlsplit(hub["redirect_url"])
    answer = person.send("get", f"{back.path}?{back.query}")
    link = RUN_LINK.search(text(answer))
    if link is None:
        outcome.messages.append(text(answer)[-300:])
        outcome.status = f"refused ({answer.status_code})"
        return outcome
    outcome.status = person.follow(link.group(1), outcome)
    return outcome


def twilio(person: Person) -> Outcome:
    """Buy an SMS number, register it as a WhatsApp sender, and register for A2P 10DLC."""
    outcome = Outcome("twilio", person.slug)
    number = buy_number(person, outcome)
    if number is not None:
        register_sender(person, number, outcome)
    outcome.status = register_a2p(person, outcome)
    return outcome


def buy_number(person: Person, outcome: Outcome) -> str | None:
    url = f"{person.base}/numbers/"
    area = AREAS[person.rng.randrange(len(AREAS))]
    number, token = None, ""
    for _ in range(RESUBMITS):  # Twilio busy: search again
        page = person.browser.get(f"{url}?country=US&number_type=local&area_code={area}&sms=y")
        if page.status_code == 200:
            token = form_token(text(page))
            number = person.storm.shop.pick(OFFERED.findall(text(page)))
            break
        person.think()
    if number is None:
        outcome.messages.append("no number to buy")
        return None
    for _ in range(RESUBMITS):
        data = {"phone_number": number, "csrf_token": token}
        person.send("post", f"{url}buy", data)
        page = text(person.browser.get(url))
        if f"{number} is yours" in page or _active(page, number):
            return number
        outcome.messages += flashes(page)
        token = form_token(page)
        person.think()
    return None


def _active(page: str, number: str) -> bool:
    return (
        re.search(re.escape(number) + r"</td>\s*<td[^>]*>\s*<span class=\"badge ok\">", page)
        is not None
    )


def register_sender(person: Person, number: str, outcome: Outcome) -> None:
    url = f"{person.base}/whatsapp-senders/"
    choices: dict[str, str] = {}
    for _ in range(RESUBMITS):
        config = page_config(text(person.browser.get(url)))
        token = config["csrf"]
        state = person.browser.post_json(config["launchUrl"], None, token).get_json()["state"]
        signup = person.storm.popup(
            "meta", "complete_signup", app_id=config["appId"],
            solution_id=config["setup"]["solutionID"], **choices,
        )  # fmt: skip
        choices = {k: signup[k] for k in ("business_id", "waba_id", "phone_number_id")}
        body = {"state": state, "code": signup["code"], "event": signup["event"],
                "sender-phone": number, "sender-name": f"Storm {person.slug}"}  # fmt: skip
        answer = person.send("post_json", config["completeUrl"], body, token)
        if answer.status_code == 200:
            return
        outcome.messages.append(json_error(answer))
        person.think()


def register_a2p(person: Person, outcome: Outcome) -> str:
    url = f"{person.base}/a2p/"
    page = text(person.browser.get(url))
    answer = person.browser.post(url, profile(person) | {"csrf_token": form_token(page)})
    if answer.status_code != 302:
        outcome.messages.append(f"profile refused ({answer.status_code})")
        return "profile refused"
    page = text(person.browser.get(url))
    answer = person.send("post", f"{url}submit", {"csrf_token": form_token(page)})
    target = urlsplit(answer.headers.get("Location", "")).path
    if "/runs/" not in target:  # refused: another tab's submission may be under way
        page = text(person.browser.get(url))
        outcome.messages += flashes(page)
        progress = PROGRESS.search(page)
        if progress is None:
            return "submission refused"
        target = progress.group(1)
    return person.follow(target, outcome)


def profile(person: Person) -> dict[str, str]:
    """A valid business profile, different for each company."""
    name = f"Storm {person.public_id}"
    site = f"https://{person.slug}.example.com"
    return {
        "legal_business_name": f"{name} LLC", "dba_name": name, "business_website": site,
        "business_type": "Limited Liability Corporation", "industry_vertical": "RETAIL",
        "business_registration_number": f"{person.rng.randrange(10**8, 10**9):09d}",
        "country": "US", "business_address": "1 Main St", "business_city": "Austin",
        "business_state": "TX", "business_zip": "78701", "owner_name": "Ann Lee",
        "owner_title": "Owner", "owner_email": f"owner@{person.slug}.example.com",
        "owner_phone": "+15125550100", "company_type": "private",
        "use_case": "ACCOUNT_NOTIFICATION",
        "campaign_description": f"Order updates and account notices for {name} customers.",
        "message_flow": f"Customers opt in on the checkout form at {site}/checkout.",
        "sample_message_1": f"{name}: your order has shipped. Reply STOP to stop.",
        "sample_message_2": f"{name}: your invoice is ready. Reply STOP to stop.",
        "opt_in_keywords": "START", "opt_out_keywords": "STOP, UNSUBSCRIBE",
        "privacy_policy_url": f"{site}/privacy", "terms_url": f"{site}/terms",
    }  # fmt: skip


def timed(journey: Callable[[Person], Outcome]) -> Callable[[Person], Outcome]:
    def run(person: Person) -> Outcome:
        outcome = journey(person)
        outcome.seconds = time.monotonic() - outcome.started
        return outcome

    return run


JOURNEYS = {name: timed(journey) for name, journey in (
    ("meta", meta), ("dialog360", dialog360), ("twilio", twilio)
)}  # fmt: skip
