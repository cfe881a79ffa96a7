"""The numbers Twilio has for sale: a deterministic catalog per country, type and area.

Search results and purchases agree because both read the same catalog (seeded by the
sandbox seed). Magic values from Twilio's test credentials (fact sheet §2): buying
``+15005550006`` or area code 500 succeeds, ``+15005550001`` -> 21421,
``+15005550000`` -> 21422, area code 533 -> 21452. Sandbox-only addition:
``+15005550031`` needs an address (21631 without ``AddressSid``).
"""

from __future__ import annotations

import random
from typing import Any

MAGIC_OK = "+15005550006"
MAGIC_INVALID = "+15005550001"
MAGIC_UNAVAILABLE = "+15005550000"
MAGIC_NEEDS_ADDRESS = "+15005550031"
MAGIC_AREA_OK = "500"
MAGIC_AREA_EMPTY = "533"

# area code -> locality, region, rate center, LATA, postal code, lat, long
US_AREAS: dict[str, tuple[str, str, str, str, str, float, float]] = {
    "415": ("San Francisco", "CA", "SNFC CNTRL", "722", "94105", 37.79, -122.4),
    "212": ("New York", "NY", "NWYRCYZN01", "132", "10001", 40.75, -73.99),
    "312": ("Chicago", "IL", "CHICAGO", "358", "60601", 41.88, -87.62),
    "512": ("Austin", "TX", "AUSTIN", "558", "78701", 30.27, -97.74),
    "206": ("Seattle", "WA", "SEATTLE", "674", "98101", 47.61, -122.33),
    "305": ("Miami", "FL", "MIAMI", "460", "33101", 25.77, -80.19),
    "617": ("Boston", "MA", "BOSTON", "128", "02108", 42.36, -71.06),
    "303": ("Denver", "CO", "DENVER", "656", "80202", 39.74, -104.99),
    "500": ("", "", "", "", "", 0.0, 0.0),
}
CA_AREAS = {
    "416": ("Toronto", "ON", "TORONTO", "", "M5H", 43.65, -79.38),
    "604": ("Vancouver", "BC", "VANCOUVER", "", "V6B", 49.28, -123.12),
}
# country -> (local prefix, city): numbers that need a regulatory bundle
REGULATED_LOCAL = {"DE": ("+4930", "Berlin"), "FR": ("+331", "Paris")}
TOLL_FREE_AREAS = ("800", "833", "844", "855", "866", "877", "888")
PER_AREA = 40


def nanp_friendly(e164: str) -> str:
    d = e164[2:]
    return f"({d[:3]}) {d[3:6]}-{d[6:]}"


def _entry(
    phone: str, country: str, area: tuple | None, rng: random.Random, requirement: str = "none"
) -> dict[str, Any]:
    locality, region, rate_center, lata, postal, lat, lon = area or (None,) * 7
    return {
        "friendly_name": nanp_friendly(phone) if phone.startswith("+1") else phone,
        "phone_number": phone,
        "lata": lata or None,
        "locality": locality or None,
        "rate_center": rate_center or None,
        # Spec types latitude/longitude as numbers (the spec example shows strings).
        "latitude": lat or None,
        "longitude": lon or None,
        "region": region or None,
        "postal_code": postal or None,
        "iso_country": country,
        "address_requirements": requirement,
        "beta": False,
        "capabilities": {
            "voice": True,
            "sms": True,
            "mms": rng.random() < 0.8,
            "fax": False,
        },
    }


def numbers_for(seed: int, country: str, kind: str, area: str) -> list[dict[str, Any]]:
    """The catalog slice for one country/type/area (area '' for countries without one)."""
    rng = random.Random(f"{seed}|{country}|{kind}|{area}")  # noqa: S311 (fixtures)
    out: list[dict[str, Any]] = []
    if country in ("US", "CA") and kind == "Local":
        table = US_AREAS if country == "US" else CA_AREAS
        if area == MAGIC_AREA_EMPTY or not (len(area) == 3 and area.isdigit() and area[0] > "1"):
            return []
        if area == MAGIC_AREA_OK and country == "US":
            return [_entry(MAGIC_OK, "US", None, rng)]
        info = table.get(area)
        if info is None and country == "CA":
            return []
        seen: set[str] = set()
        while len(out) < PER_AREA:
            phone = f"+1{area}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"
            if phone not in seen:
                seen.add(phone)
                out.append(_entry(phone, country, info, rng))
    elif country in ("US", "CA") and kind == "TollFree":
        if area not in TOLL_FREE_AREAS:
            return []
        for _ in range(PER_AREA):
            phone = f"+1{area}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"
            out.append(_entry(phone, country, None, rng))
    elif country == "GB" and kind == "Local":
        london = ("London", "", "", "", "EC1A", 51.51, -0.13)
        for _ in range(PER_AREA):
            # GB local numbers need an address in the country (address_requirements).
            phone = f"+44203{rng.randint(1000000, 9999999)}"
            out.append(_entry(phone, "GB", london, rng, "local"))
    elif country in REGULATED_LOCAL and kind == "Local":
        # Regulated (numbers v2 Regulations): bought with an approved bundle and its address.
        prefix, city = REGULATED_LOCAL[country]
        place = (city, "", "", "", "", 0.0, 0.0)
        for _ in range(PER_AREA):
            phone = f"{prefix}{rng.randint(10000000, 99999999)}"
            out.append(_entry(phone, country, place, rng, "local"))
    elif country == "GB" and kind == "Mobile":
        for _ in range(PER_AREA):
            out.append(_entry(f"+447{rng.randint(100000000, 999999999)}", "GB", None, rng))
    return out


def areas_for(country: str, kind: str) -> list[str]:
    if country in ("US", "CA") and kind == "Local":
        table = US_AREAS if country == "US" else CA_AREAS
        return [a for a in table if a != MAGIC_AREA_OK]
    if country in ("US", "CA") and kind == "TollFree":
        return list(TOLL_FREE_AREAS)
    return [""]


def supported(country: str, kind: str) -> bool:
    # There is no US/CA "Mobile" type: 404 (fact sheet §2, SK-NUM).
    return (country, kind) in {
        ("US", "Local"),
        ("US", "TollFree"),
        ("CA", "Local"),
        ("CA", "TollFree"),
        ("GB", "Local"),
        ("GB", "Mobile"),
        ("DE", "Local"),
        ("FR", "Local"),
    }


def lookup(seed: int, phone: str) -> tuple[str, dict[str, Any]] | None:
    """(type, catalog entry) for a number Twilio would sell, or None."""
    if phone == MAGIC_OK:
        return "Local", _entry(MAGIC_OK, "US", None, random.Random(0))  # noqa: S311
    if phone == MAGIC_NEEDS_ADDRESS:
        return "Local", _entry(phone, "US", None, random.Random(0), "any")  # noqa: S311
    if phone.startswith("+1") and len(phone) == 12:
        area = phone[2:5]
        kind = "TollFree" if area in TOLL_FREE_AREAS else "Local"
        for country in ("US", "CA"):
            for entry in numbers_for(seed, country, kind, area):
                if entry["phone_number"] == phone:
                    return kind, entry
        return None
    for country, (prefix, _) in REGULATED_LOCAL.items():
        if phone.startswith(prefix):
            for entry in numbers_for(seed, country, "Local", ""):
                if entry["phone_number"] == phone:
                    return "Local", entry
    if phone.startswith("+44"):
        for kind in ("Local", "Mobile"):
            for entry in numbers_for(seed, "GB", kind, ""):
                if entry["phone_number"] == phone:
                    return kind, entry
    return None
