"""The Meta simulator's WhatsApp business profile and Resumable Upload API (issue 17 item 3):
read and changed with pywa's own client (its ``update_business_profile`` uploads the picture
through the Resumable Upload API itself, and ``get_business_profile`` parses the answer
into pywa's ``BusinessProfile``), Meta's limits refused with error 100 and nothing kept, an
interrupted upload resumed from the session's ``file_offset``, and the answers checked
against the vendored OpenAPI description."""

from __future__ import annotations

import httpx
import pytest
from pywa import WhatsApp
from pywa.errors import WhatsAppError
from pywa.types.others import BusinessProfile, Industry

from provisioning.sandbox import Sandbox
from tests.sandbox.openapi import assert_conforms, validate_request_body

APP_ID, SECRET = "1234567890123456", "app-secret-0001"
G = "/meta/graph/v25.0"
PROFILE = "/{Version}/{Phone-Number-ID}/whatsapp_business_profile"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


class ToSandbox(httpx.BaseTransport):
    """graph.facebook.com, as pywa calls it, answered by the sandbox."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.inner = sandbox.transport()
        self.base = httpx.URL(sandbox.base_url)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.url = self.base.copy_with(raw_path=b"/meta/graph" + request.url.raw_path)
        return self.inner.handle_request(request)


@pytest.fixture
def customer(sandbox: Sandbox) -> dict:
    sandbox.meta.control_seed_app(app_id=APP_ID, app_secret=SECRET, webhook_url="https://p.test/w")
    return sandbox.meta.control_seed_waba(app_id=APP_ID, subscribe=True)


@pytest.fixture
def wa(sandbox: Sandbox, customer: dict):
    with httpx.Client(transport=ToSandbox(sandbox)) as session:
        yield WhatsApp(phone_id=customer["phone_number_ids"][0], token=customer["access_token"],
                       app_id=APP_ID, session=session, api_version="25.0")  # fmt: skip


def auth(customer: dict) -> dict:
    return {"Authorization": f"Bearer {customer['access_token']}"}


def profile_url(customer: dict) -> str:
    return f"{G}/{customer['phone_number_ids'][0]}/whatsapp_business_profile"


def refused(response: httpx.Response) -> WhatsAppError:
    assert response.status_code == 400, response.text
    error = WhatsAppError.from_dict(response.json()["error"])
    assert error.code == 100
    return error


def test_pywa_sets_every_field_and_a_picture_and_reads_them_back(sandbox, customer, wa):
    assert wa.get_business_profile().industry is Industry.UNDEFINED  # nobody set it yet
    assert wa.update_business_profile(
        about="Succulents, delivered", address="1 Garden Way, Springfield",
        description="Rare and classic succulents.", email="hello@nova.example",
        industry=Industry.RETAIL, websites=["https://nova.example", "http://shop.nova.example"],
        profile_picture=PNG,
    )  # fmt: skip
    profile = wa.get_business_profile()
    assert isinstance(profile, BusinessProfile)
    assert (profile.about, profile.email, profile.industry) == (
        "Succulents, delivered", "hello@nova.example", Industry.RETAIL)  # fmt: skip
    assert profile.websites == ("https://nova.example", "http://shop.nova.example")
    assert profile.profile_picture_url.startswith("https://pps.whatsapp.net/")
    kept = sandbox.meta.control_business_profile(phone_number_id=customer["phone_number_ids"][0])
    assert kept["address"] == "1 Garden Way, Springfield"
    (upload,) = sandbox.meta.uploads.values()
    assert bytes(upload.data) == PNG and upload.app_id == APP_ID


def test_only_the_fields_given_change_and_empty_ones_are_cleared(http, customer):
    url, headers = profile_url(customer), auth(customer)
    http.post(url, json={"messaging_product": "whatsapp", "about": "Hi", "email": "a@b.example"},
              headers=headers)  # fmt: skip
    http.post(url, json={"messaging_product": "whatsapp", "email": ""}, headers=headers)
    body = http.get(url, params={"fields": "about,email"}, headers=headers).json()
    assert body == {"data": [{"about": "Hi", "messaging_product": "whatsapp"}]}
    # Meta's own example sends the websites as a JSON string
    http.post(url, json={"messaging_product": "whatsapp", "websites": '["https://a.example"]'},
              headers=headers)  # fmt: skip
    got = http.get(url, params={"fields": "websites"}, headers=headers).json()["data"][0]
    assert got["websites"] == ["https://a.example"]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"about": ""}, "about"),
        ({"about": "x" * 140}, "about"),
        ({"address": "x" * 257}, "address"),
        ({"description": "x" * 513}, "description"),
        ({"email": "not-an-address"}, "email"),
        ({"email": "a" * 120 + "@b.example"}, "email"),
        ({"websites": ["https://a.example", "https://b.example", "https://c.example"]}, "websites"),
        ({"websites": ["ftp://a.example"]}, "http"),
        ({"websites": ["https://a.example/" + "x" * 250]}, "256"),
        ({"vertical": "SPACESHIPS"}, "vertical"),
        ({"profile_picture_handle": "4:bm9uZQ==:aW1hZ2UvanBlZw==:AR:e:1:2:3:AR"}, "handle"),
        ({"slogan": "The best"}, "slogan"),
    ],
)
def test_values_outside_meta_s_limits_are_refused_and_nothing_is_kept(
    http, customer, change, words
):
    url, headers = profile_url(customer), auth(customer)
    good = {"messaging_product": "whatsapp", "address": "1 Garden Way"}
    error = refused(http.post(url, json={**good, **change}, headers=headers))
    assert words in error.message
    assert "address" not in http.get(url, headers=headers).json()["data"][0]


def test_the_profile_needs_messaging_product_and_a_number_the_token_reaches(
    sandbox, http, customer
):
    url, headers = profile_url(customer), auth(customer)
    assert (
        "messaging_product"
        in refused(http.post(url, json={"about": "Hi"}, headers=headers)).message
    )
    other = sandbox.meta.control_seed_waba(app_id=APP_ID)
    elsewhere = f"{G}/{other['phone_number_ids'][0]}/whatsapp_business_profile"
    assert http.get(elsewhere, headers=headers).json()["error"]["error_subcode"] == 33
    unknown = http.get(url, params={"fields": "about,slogan"}, headers=headers)
    assert "slogan" in refused(unknown).message


def test_an_interrupted_upload_resumes_from_the_session_s_offset(sandbox, http, customer):
    headers = auth(customer)
    start = http.post(f"{G}/{APP_ID}/uploads", headers=headers, params={
        "file_name": "logo.png", "file_length": len(PNG), "file_type": "image/png"})  # fmt: skip
    session = start.json()["id"]
    assert session.startswith("upload:")
    url = f"{G}/{session}"
    oauth = {"Authorization": f"OAuth {customer['access_token']}"}
    half = len(PNG) // 2
    partial = http.post(url, content=PNG[:half], headers={**oauth, "file_offset": "0"})
    assert partial.json() == {"id": session, "file_offset": half}
    wrong = http.post(url, content=PNG[half:], headers={**oauth, "file_offset": "0"})
    assert "file_offset" in refused(wrong).message
    assert http.get(url, headers=oauth).json() == {"id": session, "file_offset": half}
    done = http.post(url, content=PNG[half:], headers={**oauth, "file_offset": str(half)})
    handle = done.json()["h"]
    assert handle.startswith("4:") and APP_ID in handle
    again = http.post(url, content=b"", headers={**oauth, "file_offset": str(len(PNG))})
    assert again.json() == {"h": handle}  # asking again after a lost answer: the same handle
    too_long = http.post(url, content=b"x", headers={**oauth, "file_offset": str(len(PNG))})
    assert refused(too_long)


def test_upload_sessions_take_meta_s_file_types_and_only_images_become_pictures(http, customer):
    headers = auth(customer)

    def start(file_type: str, app_id: str = APP_ID) -> httpx.Response:
        return http.post(f"{G}/{app_id}/uploads", headers=headers, params={
            "file_name": "f", "file_length": 3, "file_type": file_type})  # fmt: skip

    assert "file_type" in refused(start("image/gif")).message
    assert start("image/png", app_id="999").json()["error"]["error_subcode"] == 33
    session = start("application/pdf").json()["id"]
    handle = http.post(f"{G}/{session}", content=b"pdf", headers={**headers, "file_offset": "0"})
    picture = {"messaging_product": "whatsapp", "profile_picture_handle": handle.json()["h"]}
    assert "JPEG or PNG" in refused(http.post(profile_url(customer), json=picture,
                                              headers=headers)).message  # fmt: skip


def test_the_profile_answers_conform_to_meta_s_openapi_description(sandbox, http, customer):
    url, headers = profile_url(customer), auth(customer)
    body = {"messaging_product": "whatsapp", "about": "Hi", "address": "1 Garden Way",
            "description": "Succulents.", "email": "a@b.example", "vertical": "RETAIL",
            "websites": ["https://a.example"]}  # fmt: skip
    validate_request_body("meta", f"POST {PROFILE}", body)
    http.post(url, json=body, headers=headers)
    http.post(url, json={"messaging_product": "whatsapp", "email": "nope"}, headers=headers)
    http.get(url, headers=headers)
    http.get(url, params={"fields": "about,vertical"}, headers=headers)
    profile_calls = [e for e in sandbox.exchanges if "whatsapp_business_profile" in e["path"]]
    covered = assert_conforms(profile_calls, hints={customer["phone_number_ids"][0]:
                                                    "Phone-Number-ID"})  # fmt: skip
    assert {f"GET {PROFILE}", f"POST {PROFILE}"} <= covered
