"""Each person lands where their work is, and claiming a step opens it (issue 20)."""

from __future__ import annotations

import re

from engine import services
from tests.webclient import Staff, care_plan_step


def test_a_practitioner_lands_on_their_own_steps_and_a_team_manager_on_the_team_s(app, rt, now):
    step = care_plan_step(rt, "CH-6001")
    services.claim_task(rt, step["id"], "sw.alice")
    care_plan_step(rt, "CH-6002")  # nobody holds this one yet
    alice = Staff(app, "sw.alice").get("/").text
    assert re.search(r'aria-current="page"[^>]*>\s*My tasks', alice) and "CH-6001" in alice
    assert 'class="moj-sub-navigation"' in alice and "govuk-tabs" not in alice  # links between pages, not tabs
    assert 'id="team-counts"' not in alice
    carol = Staff(app, "tm.carol").get("/").text
    assert re.search(r'aria-current="page"[^>]*>\s*My team', carol)
    assert "CH-6001" in carol and "CH-6002" in carol  # the team's steps, held or not
    counts = carol[carol.index('id="team-counts"') :]
    free = [t for t in services.list_tasks(rt, team="north") if not t["assignee"]]
    assert len(free) >= 1 and any(t["ref"] == "CH-6002" for t in free)
    assert re.search(r'pp-count">0</span> overdue', counts)
    assert re.search(rf'pp-count">{len(free)}</span> unassigned', counts)
    now.advance(days=120)  # past every step's due date
    counts = Staff(app, "tm.carol").get("/").text
    opened = len(services.list_tasks(rt, team="north"))
    assert re.search(rf'pp-count">{opened}</span> overdue', counts[counts.index('id="team-counts"') :])
    mine = Staff(app, "tm.carol").get("/?tab=mine").text
    assert re.search(r'aria-current="page"[^>]*>\s*My tasks', mine)  # her own list is a tab away


def test_process_owners_and_administrators_land_on_their_own_pages(app):
    owner = Staff(app, "po.erin")
    landed = owner.client.get("/")
    assert landed.status_code == 302 and landed.headers["Location"] == "/modeller"
    assert 'href="/">Inbox' not in owner.get("/modeller").text.replace("\n", "")  # no empty inbox in the menu
    assert owner.get("/?tab=mine").status_code == 200  # still there if asked for
    admin = Staff(app, "admin.ash").client.get("/")
    assert admin.status_code == 302 and admin.headers["Location"] == "/admin/events"


def test_claiming_a_step_opens_it(app, rt):
    step = care_plan_step(rt, "CH-6003")
    alice = Staff(app, "sw.alice")
    claimed = alice.post(f"/tasks/{step['id']}/claim", {"back": "/?tab=unassigned"})
    assert claimed.headers["Location"] == f"/tasks/{step['id']}"
    page = alice.get(claimed.headers["Location"]).text
    assert "You have claimed" in page and "Record this step" in page


def test_starting_a_pathway_a_child_already_has_links_to_the_open_case_and_keeps_the_answers(app, rt):
    alice = Staff(app, "sw.alice")
    answers = {"pathway": "ppm_to_adm", "ref": "CH-6100", "team": "north", "in_care_proceedings": "no",
               "date_of_birth-day": "1", "date_of_birth-month": "3", "date_of_birth-year": "2020",
               "looked_after_date-day": "18", "looked_after_date-month": "12",
               "looked_after_date-year": "2026"}  # fmt: skip
    first = alice.post("/start", answers)
    opened = first.headers["Location"]
    again = alice.post("/start", {**answers, "looked_after_date-day": "17"}, status=409).text
    assert "CH-6100 already has an open" in again and 'href="#ref"' in again  # on the form, not an error page
    assert f'id="open-case" href="{opened}">See CH-6100' in again  # a link to the open case
    assert "&lt;a" not in again  # never markup shown as text
    day = again.split('id="looked_after_date-day"')[1].split(">")[0]
    assert 'value="17"' in day  # what was typed is kept
    assert len([c for c in services.list_tasks(rt, ref="CH-6100")]) >= 1
    assert alice.get(opened).status_code == 200
