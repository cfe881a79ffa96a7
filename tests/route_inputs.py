"""Every route of the app, and the inputs each one reads, found by tracing the app itself.

``discover`` calls every route (as a platform admin and signed out, in the tests) through
a request class that records which query and form keys (``request.args``,
``request.form``, the fields of the forms a view builds) and which JSON keys the view
reads. The fuzz and cross-tenant tests
send those inputs, so a new route or form field is covered without editing them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.routing import Rule
from werkzeug.routing.converters import AnyConverter, IntegerConverter

PROBE = "probe__"  # a key no view reads: makes a form non-empty, so forms read their fields


@dataclass(frozen=True, eq=False)
class Route:
    rule: Rule
    method: str

    @property
    def endpoint(self) -> str:
        return self.rule.endpoint

    def __str__(self) -> str:
        return f"{self.method} {self.rule.rule}"

    def __hash__(self) -> int:
        return hash(str(self))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Route) and str(self) == str(other)


def routes(app: Flask) -> Iterator[Route]:
    """Every (rule, method) of the app but Flask's static files, in a stable order."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield Route(rule, method)


def access(app: Flask, route: Route) -> str:
    return app.view_functions[route.endpoint].access


def int_arguments(rule: Rule) -> set[str]:
    return {n for n, c in rule._converters.items() if isinstance(c, IntegerConverter)}


def choices(rule: Rule, argument: str) -> list[str]:
    """The fixed values an ``any(...)`` argument takes; empty for a free one."""
    converter = rule._converters.get(argument)
    return sorted(converter.items) if isinstance(converter, AnyConverter) else []


@dataclass
class Inputs:
    params: set[str] = field(default_factory=set)  # query or form keys
    json: set[str] = field(default_factory=set)  # JSON paths, "a.b" for nested keys


_reads: Inputs | None = None  # where the tracing request class records, while it does


def _record_param(key: Any) -> None:
    if _reads is not None and isinstance(key, str) and key != PROBE:
        _reads.params.add(key)


class _TracedParams(ImmutableMultiDict):
    def __contains__(self, key: object) -> bool:
        _record_param(key)
        return super().__contains__(key)

    def __getitem__(self, key: Any) -> Any:
        _record_param(key)
        return super().__getitem__(key)

    def get(self, key: Any, default: Any = None, type: Any = None) -> Any:
        _record_param(key)
        return super().get(key, default, type)

    def getlist(self, key: Any, type: Any = None) -> list:
        _record_param(key)
        return super().getlist(key, type)


class _TracedJSON(dict):
    """A JSON object that records the keys read from it (nested objects too)."""

    def __init__(self, value: dict, path: str) -> None:
        super().__init__(value)
        self.path = path

    def _seen(self, key: Any) -> Any:
        if _reads is not None and isinstance(key, str):
            _reads.json.add(f"{self.path}{key}")
        return key

    def __getitem__(self, key: Any) -> Any:
        return _traced(super().__getitem__(self._seen(key)), f"{self.path}{key}.")

    def get(self, key: Any, default: Any = None) -> Any:
        if super().__contains__(self._seen(key)):
            return self[key]
        return default

    def __contains__(self, key: object) -> bool:
        return super().__contains__(self._seen(key))


def _traced(value: Any, path: str = "") -> Any:
    return _TracedJSON(value, path) if isinstance(value, dict) else value


class _Tracing:
    """Mixed into the app's request class while ``discover`` runs."""

    parameter_storage_class = _TracedParams

    def get_json(self, *args: Any, **kwargs: Any) -> Any:
        return _traced(super().get_json(*args, **kwargs))


@contextmanager
def undone(app: Flask, session) -> Iterator[None]:
    """What the requests inside change in the database is undone after them (a savepoint
    on the test's connection), and the jobs they queued are dropped."""
    point = session.get_bind().begin_nested()
    try:
        yield
    finally:
        point.rollback()
        session.expire_all()
        app.extensions["job_runner"].queue.clear()


@contextmanager
def kept_cookies(client) -> Iterator[None]:
    """The client's cookies (its sign-in) as they were before: a route that signs out or
    changes the session affects no later route."""
    saved = dict(client._cookies)
    try:
        yield
    finally:
        client._cookies = saved


def discover(app: Flask, clients, url_of, isolated) -> dict[Route, Inputs]:
    """The inputs every route reads, traced through calls with a probe query and form and
    with an empty JSON object, by each of ``clients`` (signed in or not as the caller
    chose). ``url_of(route)`` gives a URL to call; ``isolated()`` a context manager inside
    which what a call changes is undone afterwards (each route sees the same world)."""
    global _reads
    found: dict[Route, Inputs] = {}
    original = app.request_class
    app.request_class = type("Tracing" + original.__name__, (_Tracing, original), {})
    try:
        for route in routes(app):
            _reads = found.setdefault(route, Inputs())
            calls: list[dict[str, Any]] = [{"query_string": {PROBE: "1"}}]
            if route.method != "GET":
                calls += [{"data": {PROBE: "1"}}, {"json": {}}]
            for client in clients:
                with isolated(), kept_cookies(client):
                    for call in calls:
                        try:
                            client.open(url_of(route), method=route.method, **call)
                        except Exception:
                            continue
    finally:
        _reads = None
        app.request_class = original
    return found
