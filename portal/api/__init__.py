"""The platform API: ``/api/v1``, JSON, described by OpenAPI 3.1 from the code
(flask-smorest), authenticated by API keys (:mod:`portal.api.auth`), errors as
``application/problem+json`` (:mod:`portal.api.problems`). See docs/api.md."""

from __future__ import annotations

import http

from flask import Flask
from flask_smorest import Api
from flask_smorest.utils import prepare_response
from marshmallow import Schema, fields

from ..extensions import csrf
from .auth import Forbidden, Unauthenticated
from .problems import MEDIA_TYPE, problem


class ProblemSchema(Schema):
    """An error (RFC 9457); ``errors``: a refused request's field messages by location."""

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    errors = fields.Dict()


class PortalApi(Api):
    """flask-smorest's Api, without its app-wide error handler (the portal answers every
    error itself: problems under /api, pages elsewhere), its error answers documented as
    problems."""

    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self) -> None:
        pass

    def _register_responses(self) -> None:
        for status in http.HTTPStatus:
            response: dict = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, MEDIA_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "An error, as a problem (RFC 9457).",
                    "schema": self.ERROR_SCHEMA}  # fmt: skip
        prepare_response(response, self.spec, MEDIA_TYPE)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)


def register(app: Flask) -> PortalApi:
    from . import (
        a2p,
        channels,
        companies,
        docs,
        events,
        links,
        members,
        partners,
        ratelimit,
        runs,
        templates,
        twilio,
    )

    app.config.update(
        API_TITLE="Partner Portal API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX=None,  # served by portal.api.docs, with an access marker
    )
    api = PortalApi(
        app,
        spec_kwargs={
            "info": {"description": "Companies, channels and their credentials, for the "
                     "platform's services. Authenticate with an API key created in the portal."},
            "extra_plugins": [ratelimit.RateLimitDocs()],
        },
    )  # fmt: skip
    ratelimit.document(api, ProblemSchema)
    api.spec.components.security_scheme(
        "apiKey", {"type": "http", "scheme": "bearer", "description": "An API key (wpk_...)."}
    )
    api.spec.options["security"] = [{"apiKey": []}]
    for blueprint in (
        companies.blp,
        channels.blp,
        events.blp,
        runs.blp,
        twilio.blp,
        a2p.blp,
        members.blp,
        partners.blp,
        links.blp,
        templates.blp,
    ):
        csrf.exempt(blueprint)  # no cookie authenticates the API: nothing to forge
        api.register_blueprint(blueprint)
    app.register_blueprint(docs.bp)
    ratelimit.init_app(app)  # rate limits per key, and their RateLimit fields
    app.register_error_handler(
        Unauthenticated,
        lambda exc: problem(401, str(exc), {"WWW-Authenticate": 'Bearer realm="api"'}),
    )
    app.register_error_handler(Forbidden, lambda exc: problem(403, str(exc)))
    app.extensions["portal_api"] = api
    return api
