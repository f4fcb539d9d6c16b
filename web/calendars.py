"""Calendar feeds (RFC 5545, the icalendar package) at secret addresses, and the page that makes them.

What a feed holds is engine.services.calendar_feeds'; this writes it as iCalendar: all-day events
with stable UIDs, a reminder (VALARM) the day before each, and a refresh hint of an hour."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from icalendar import Alarm, Calendar, Event

from engine import clock
from engine.errors import InvalidInput, NotFound
from engine.services import accounts, calendar_feeds
from web import forms, security
from web.chrome import when
from web.security import login_required

blueprint = Blueprint("calendars", __name__)


def ics(name: str, events: list[calendar_feeds.FeedEvent], domain: str) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//Permanence Pathways//Calendar feed//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    calendar.add("x-published-ttl", "PT1H")  # Outlook: refresh hourly
    calendar.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})  # RFC 7986
    stamp = clock.utcnow()
    for found in events:
        event = Event()
        event.add("uid", f"{found.uid}@{domain}")
        event.add("dtstamp", stamp)
        event.add("dtstart", found.day)
        event.add("dtend", found.day + timedelta(days=1))
        event.add("summary", found.summary)
        event.add("description", f"{found.description}\n{found.link}")
        event.add("url", found.link)
        event.add("transp", "TRANSPARENT")  # a due date is not a meeting: the day stays free
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", f"Tomorrow: {found.summary}")
        alarm.add("trigger", timedelta(days=-1))
        event.add_component(alarm)
        calendar.add_component(event)
    return calendar.to_ical()


@blueprint.get("/calendar/<token>.ics")
def feed(token: str) -> Response:
    """No sign-in: the secret address is the key (a calendar application cannot sign in)."""
    rt = security.runtime()
    try:
        name, events = calendar_feeds.feed(rt, token)
    except NotFound as exc:
        return Response(exc.message + "\n", status=404, mimetype="text/plain")
    response = Response(ics(name, events, rt.settings.mail_domain), mimetype="text/calendar")
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Disposition"] = "inline; filename=pathways.ics"
    return response


def _address(token: str) -> str:
    return url_for("calendars.feed", token=token, _external=True)


@blueprint.get("/calendar")
@login_required
def index(made: str | None = None, made_for: str | None = None) -> str:
    rt, me = security.runtime(), security.person()
    teams = sorted(t["name"] for t in accounts.list_teams(rt) if me.may_assign_in(t["name"])) if me.oversees else []
    return render_template("calendar.html", feeds=calendar_feeds.list_feeds(rt, me), teams=teams, made=made,
                           made_for=made_for, webcal=made and made.replace("https://", "webcal://", 1)
                           .replace("http://", "webcal://", 1))  # fmt: skip


@blueprint.post("/calendar")
@login_required
def make() -> str:
    rt, me = security.runtime(), security.person()
    team = (request.form.get("team") or "").strip() or None
    if team is not None and team not in {t["name"] for t in accounts.list_teams(rt)}:
        raise InvalidInput(f"there is no team {team}")
    token = calendar_feeds.create_feed(rt, me, team)
    return index(made=_address(token), made_for=f"team {team}" if team else "your steps")


@blueprint.post("/calendar/<id:feed_id>/stop")
@login_required
def stop(feed_id: int) -> Response | str:
    rt, me = security.runtime(), security.person()
    if not forms.confirmed():
        found = next((f for f in calendar_feeds.list_feeds(rt, me) if f["id"] == feed_id), None)
        if found is None:
            raise NotFound(f"there is no calendar address {feed_id} of yours")
        return forms.confirm_page(
            "Stop this calendar address?", "Calendars subscribed to it (Outlook, Google) will show nothing more "
            "from Permanence Pathways. This cannot be undone: you can make a new address.",
            url_for("calendars.stop", feed_id=feed_id), url_for("calendars.index"), "Yes, stop the address",
            "No, keep it", rows=[("For", f"team {found['team']}" if found["team"] else "your steps"),
                  ("Made", when(found["created_at"]))])  # fmt: skip
    calendar_feeds.revoke_feed(rt, me, feed_id)
    flash("That calendar address has stopped: calendars using it show nothing more from Permanence Pathways.")
    return redirect(url_for("calendars.index"))
