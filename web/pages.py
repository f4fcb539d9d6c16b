"""The pages every GOV.UK service publishes, open without signing in (issue 20): the accessibility
statement (Public Sector Bodies Accessibility Regulations 2018), the privacy notice and the cookies page.

What differs between councils comes from the environment: ORGANISATION_NAME (the council running the
service, the data controller), CONTACT_EMAIL (accessibility problems, privacy questions, feedback),
DPO_EMAIL (the data protection officer; CONTACT_EMAIL when unset) and SERVICE_PHASE (the phase banner's
tag: Alpha, Beta or Live; Live shows no banner)."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from flask import Blueprint, current_app, render_template

blueprint = Blueprint("pages", __name__)

STATEMENT_PREPARED = "7 December 2026"  # when the statement was last reviewed against the service


def service_facts() -> dict[str, Any]:
    """What the footer pages and the phase banner say about who runs the service."""
    contact = os.environ.get("CONTACT_EMAIL", "").strip() or None
    phase = os.environ.get("SERVICE_PHASE", "Beta").strip() or "Beta"
    return {
        "organisation": os.environ.get("ORGANISATION_NAME", "").strip() or "the council that runs this service",
        "contact_email": contact,
        "dpo_email": os.environ.get("DPO_EMAIL", "").strip() or contact,
        "phase": None if phase.lower() == "live" else phase,
    }


@blueprint.get("/accessibility")
def accessibility() -> str:
    return render_template("accessibility.html", prepared=STATEMENT_PREPARED)


@blueprint.get("/privacy")
def privacy() -> str:
    return render_template("privacy.html")


@blueprint.get("/cookies")
def cookies() -> str:
    lifetime: timedelta = current_app.config["PERMANENT_SESSION_LIFETIME"]
    hours = int(lifetime.total_seconds() // 3600)
    return render_template("cookies.html", cookie_name=current_app.config["SESSION_COOKIE_NAME"], hours=hours)
