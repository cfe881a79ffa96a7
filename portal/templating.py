"""Template globals and filters."""

from __future__ import annotations

import datetime as dt

from flask import Flask, g


def register(app: Flask) -> None:
    @app.template_filter("when")
    def when(value: dt.datetime | None) -> str:
        return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"

    @app.context_processor
    def inject() -> dict:
        return {
            "current_company": g.get("company"),
            "current_role": g.get("role"),
            "portal_env": app.config["PORTAL_ENV"],
            "provider_environment": app.config["PROVIDER_ENVIRONMENT"],
        }
