"""Subaccounts, keys, credential scoping (§1) and numbers (§2) over the wire."""

from __future__ import annotations

import httpx
import pytest

API = "/twilio/api/2010-04-01"


@pytest.fixture
def master(sandbox):
    m = sandbox.twilio.control_seed_master()
    return {"sid": m["account_sid"], "auth": (m["account_sid"], m["auth_token"])}


def new_sub(http, master, name="Acme"):
    r = http.post(f"{API}/Accounts.json", data={"FriendlyName": name}, auth=master["auth"])
    assert r.status_code == 201, r.text
    body = r.json()
    return {"sid": body["sid"], "auth": (body["sid"], body["auth_token"]), "body": body}


def search(http, sub, **params):
    r = http.get(
        f"{API}/Accounts/{sub['sid']}/AvailablePhoneNumbers/US/Local.json",
        params=params,
        auth=sub["auth"],
    )
    assert r.status_code == 200, r.text
    return r.json()["available_phone_numbers"]


def buy(http, sub, **data):
    return http.post(
        f"{API}/Accounts/{sub['sid']}/IncomingPhoneNumbers.json", data=data, auth=sub["auth"]
    )


def test_create_subaccount_returns_201_with_its_own_token(http, master):
    sub = new_sub(http, master)
    body = sub["body"]
    assert body["owner_account_sid"] == master["sid"]
    assert body["status"] == "active" and body["type"] == "Full"
    assert body["auth_token"] and body["auth_token"] != master["auth"][1]
    assert body["uri"] == f"/2010-04-01/Accounts/{sub['sid']}.json"
    assert body["date_created"].endswith("+0000")  # RFC 2822
    default = http.post(f"{API}/Accounts.json", auth=master["auth"]).json()
    assert default["friendly_name"].startswith("SubAccount Created at ")


def test_account_list_filters_and_visibility(http, master):
    a, b = new_sub(http, master, "A"), new_sub(http, master, "B")
    parent_view = http.get(f"{API}/Accounts.json", auth=master["auth"]).json()
    assert {x["sid"] for x in parent_view["accounts"]} == {master["sid"], a["sid"], b["sid"]}
    named = http.get(f"{API}/Accounts.json", params={"FriendlyName": "B"}, auth=master["auth"])
    assert [x["sid"] for x in named.json()["accounts"]] == [b["sid"]]
    own_view = http.get(f"{API}/Accounts.json", auth=a["auth"]).json()
    assert [x["sid"] for x in own_view["accounts"]] == [a["sid"]]


def test_subaccount_cannot_reach_parent_or_sibling(http, master):
    a, b = new_sub(http, master, "A"), new_sub(http, master, "B")
    for target in (master["sid"], b["sid"]):
        r = http.get(f"{API}/Accounts/{target}/IncomingPhoneNumbers.json", auth=a["auth"])
        assert r.status_code == 401
        assert r.json()["code"] == 20003
        assert r.json()["more_info"] == "https://www.twilio.com/docs/errors/20003"
    assert http.get(f"{API}/Accounts/{a['sid']}.json", auth=master["auth"]).status_code == 200


def test_keys_secret_shown_once_and_parent_keys_do_not_reach_subaccounts(http, master):
    sub = new_sub(http, master)
    r = http.post(
        f"{API}/Accounts/{sub['sid']}/Keys.json", data={"FriendlyName": "portal"}, auth=sub["auth"]
    )
    assert r.status_code == 201
    key = r.json()
    assert key["sid"].startswith("SK") and key["secret"]
    listed = http.get(f"{API}/Accounts/{sub['sid']}/Keys.json", auth=sub["auth"]).json()
    assert [k["sid"] for k in listed["keys"]] == [key["sid"]]
    assert "secret" not in listed["keys"][0]
    fetched = http.get(f"{API}/Accounts/{sub['sid']}/Keys/{key['sid']}.json", auth=sub["auth"])
    assert "secret" not in fetched.json()
    # The key authenticates as the subaccount...
    key_auth = (key["sid"], key["secret"])
    assert http.get(f"{API}/Accounts/{sub['sid']}.json", auth=key_auth).status_code == 200
    # ...and a parent key cannot reach a subaccount (§1).
    parent_key = http.post(f"{API}/Accounts/{master['sid']}/Keys.json", auth=master["auth"]).json()
    r = http.get(
        f"{API}/Accounts/{sub['sid']}/IncomingPhoneNumbers.json",
        auth=(parent_key["sid"], parent_key["secret"]),
    )
    assert r.status_code == 401


def test_subaccount_limit_is_21480(sandbox, http, master):
    sandbox.twilio.control_set_subaccount_limit(limit=1)
    new_sub(http, master)
    r = http.post(f"{API}/Accounts.json", auth=master["auth"])
    assert r.status_code == 400 and r.json()["code"] == 21480


def test_suspend_keeps_numbers_close_releases_them(http, master):
    sub = new_sub(http, master)
    number = buy(http, sub, AreaCode="415").json()
    url = f"{API}/Accounts/{sub['sid']}.json"
    r = http.post(url, data={"Status": "suspended"}, auth=master["auth"])
    assert r.json()["status"] == "suspended"
    r = http.get(f"{API}/Accounts/{sub['sid']}/IncomingPhoneNumbers.json", auth=sub["auth"])
    assert r.status_code == 401  # suspended credentials
    http.post(url, data={"Status": "active"}, auth=master["auth"])
    listed = http.get(f"{API}/Accounts/{sub['sid']}/IncomingPhoneNumbers.json", auth=sub["auth"])
    assert [n["sid"] for n in listed.json()["incoming_phone_numbers"]] == [number["sid"]]
    http.post(url, data={"Status": "closed"}, auth=master["auth"])
    r = http.post(url, data={"Status": "active"}, auth=master["auth"])
    assert r.status_code == 400  # closing is irreversible
    # The number went back to the pool: the parent can buy it.
    again = buy(
        http, {"sid": master["sid"], "auth": master["auth"]}, PhoneNumber=number["phone_number"]
    )
    assert again.status_code == 201


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"PhoneNumber": "+15005550001"}, 21421),
        ({"PhoneNumber": "+15005550000"}, 21422),
        ({"AreaCode": "533"}, 21452),
        ({"AreaCode": "123"}, 21451),
        ({"PhoneNumber": "+15005550031"}, 21631),
    ],
)
def test_magic_numbers(http, master, data, code):
    sub = new_sub(http, master)
    r = buy(http, sub, **data)
    assert r.status_code == 400
    assert r.json() == {
        "code": code,
        "message": r.json()["message"],
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": 400,
    }


def test_magic_success_numbers(http, master):
    sub = new_sub(http, master)
    r = buy(http, sub, PhoneNumber="+15005550006")
    assert r.status_code == 201 and r.json()["phone_number"] == "+15005550006"
    second = buy(http, sub, PhoneNumber="+15005550006")
    assert second.json()["code"] == 21422  # owned now


def test_search_filters(http, master):
    sub = new_sub(http, master)
    found = search(http, sub, AreaCode="415", Contains="415*", MmsEnabled="true", PageSize=3)
    assert 1 <= len(found) <= 3
    assert all(n["phone_number"].startswith("+1415") and n["capabilities"]["mms"] for n in found)
    assert all(n["region"] == "CA" for n in search(http, sub, InRegion="CA"))
    assert search(http, sub, AreaCode="533") == []
    r = http.get(
        f"{API}/Accounts/{sub['sid']}/AvailablePhoneNumbers/US/Mobile.json", auth=sub["auth"]
    )
    assert r.status_code == 404 and r.json()["code"] == 20404
    toll = http.get(
        f"{API}/Accounts/{sub['sid']}/AvailablePhoneNumbers/US/TollFree.json",
        params={"AreaCode": "800"},
        auth=sub["auth"],
    ).json()
    assert toll["available_phone_numbers"][0]["phone_number"].startswith("+1800")


def test_bought_numbers_leave_the_search(http, master):
    sub = new_sub(http, master)
    first = search(http, sub, AreaCode="212")[0]["phone_number"]
    assert buy(http, sub, PhoneNumber=first).status_code == 201
    assert first not in {n["phone_number"] for n in search(http, sub, AreaCode="212")}


def test_number_update_list_filters_paging_and_release(http, master):
    sub = new_sub(http, master)
    bought = [buy(http, sub, AreaCode="512").json() for _ in range(3)]
    base = f"{API}/Accounts/{sub['sid']}/IncomingPhoneNumbers"
    r = http.post(
        f"{base}/{bought[0]['sid']}.json",
        data={"SmsUrl": "https://portal.test/sms", "FriendlyName": "main"},
        auth=sub["auth"],
    )
    assert r.json()["sms_url"] == "https://portal.test/sms"
    r = http.post(
        f"{base}/{bought[0]['sid']}.json",
        data={"SmsApplicationSid": "AP" + "0" * 32},
        auth=sub["auth"],
    )
    assert r.json()["sms_url"] is None  # setting the application clears the URL
    by_name = http.get(f"{base}.json", params={"FriendlyName": "main"}, auth=sub["auth"]).json()
    assert [n["sid"] for n in by_name["incoming_phone_numbers"]] == [bought[0]["sid"]]
    partial = bought[1]["phone_number"][:-2] + "**"
    by_number = http.get(f"{base}.json", params={"PhoneNumber": partial}, auth=sub["auth"])
    assert bought[1]["sid"] in {n["sid"] for n in by_number.json()["incoming_phone_numbers"]}

    page0 = http.get(f"{base}.json", params={"PageSize": 2}, auth=sub["auth"]).json()
    assert len(page0["incoming_phone_numbers"]) == 2
    assert page0["page"] == 0 and page0["page_size"] == 2 and page0["previous_page_uri"] is None
    assert page0["next_page_uri"].startswith(f"/2010-04-01/Accounts/{sub['sid']}/")
    page1 = http.get(f"/twilio/api{page0['next_page_uri']}", auth=sub["auth"]).json()
    assert len(page1["incoming_phone_numbers"]) == 1 and page1["next_page_uri"] is None
    assert page1["start"] == 2

    r = http.delete(f"{base}/{bought[2]['sid']}.json", auth=sub["auth"])
    assert r.status_code == 204 and r.content == b""
    assert http.get(f"{base}/{bought[2]['sid']}.json", auth=sub["auth"]).status_code == 404


def test_move_number_needs_parent_credentials(http, master):
    a, b = new_sub(http, master, "A"), new_sub(http, master, "B")
    number = buy(http, a, AreaCode="303").json()
    url = f"{API}/Accounts/{a['sid']}/IncomingPhoneNumbers/{number['sid']}.json"
    r = http.post(url, data={"AccountSid": b["sid"]}, auth=a["auth"])
    assert r.status_code == 403
    r = http.post(url, data={"AccountSid": b["sid"]}, auth=master["auth"])
    assert r.status_code == 200 and r.json()["account_sid"] == b["sid"]
    listed = http.get(f"{API}/Accounts/{b['sid']}/IncomingPhoneNumbers.json", auth=b["auth"])
    assert [n["sid"] for n in listed.json()["incoming_phone_numbers"]] == [number["sid"]]


def test_dropped_purchase_response_keeps_the_purchase(sandbox, http, master):
    sub = new_sub(http, master)
    phone = search(http, sub, AreaCode="617")[0]["phone_number"]
    sandbox.faults.add(
        "drop", provider="twilio", method="POST", path=r"/IncomingPhoneNumbers\.json$", times=1
    )
    with pytest.raises(httpx.RemoteProtocolError):
        buy(http, sub, PhoneNumber=phone)
    # A naive retry is refused (the number is already ours), and the list shows it once.
    assert buy(http, sub, PhoneNumber=phone).json()["code"] == 21422
    listed = http.get(
        f"{API}/Accounts/{sub['sid']}/IncomingPhoneNumbers.json",
        params={"PhoneNumber": phone},
        auth=sub["auth"],
    ).json()
    assert [n["phone_number"] for n in listed["incoming_phone_numbers"]] == [phone]


def test_address_list_filters(http, master):
    sub = new_sub(http, master)
    url = f"{API}/Accounts/{sub['sid']}/Addresses.json"
    base = {"Street": "1 Main St", "City": "Austin", "Region": "TX", "PostalCode": "78701"}
    for name, customer, country in (("HQ", "Acme", "US"), ("Depot", "Acme", "CA")):
        data = base | {"FriendlyName": name, "CustomerName": customer, "IsoCountry": country}
        assert http.post(url, data=data, auth=sub["auth"]).status_code == 201

    def listed(**params) -> list[str]:
        r = http.get(url, params=params, auth=sub["auth"])
        assert r.status_code == 200, r.text
        return [a["friendly_name"] for a in r.json()["addresses"]]

    assert listed(FriendlyName="HQ") == ["HQ"]
    assert listed(IsoCountry="CA") == ["Depot"]
    assert listed(CustomerName="Acme", EmergencyEnabled="false") == ["HQ", "Depot"]
    assert listed(FriendlyName="Nowhere") == []
