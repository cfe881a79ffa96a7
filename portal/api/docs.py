"""The API's OpenAPI document and a page that lists its operations (no scripts)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template

from ..access import public

bp = Blueprint("api_docs", __name__, url_prefix="/api/v1")
METHODS = ("get", "post", "put", "patch", "delete")


def spec() -> dict:
    return current_app.extensions["portal_api"].spec.to_dict()


@bp.route("/openapi.json")
@public
def openapi_json():
    return jsonify(spec())


@bp.route("/docs")
@public
def docs():
    document = spec()
    operations = [
        {"method": method.upper(), "path": path, **operation}
        for path, item in document.get("paths", {}).items()
        for method, operation in item.items()
        if method in METHODS
    ]
    return render_template("api/docs.html", document=document, operations=operations)
