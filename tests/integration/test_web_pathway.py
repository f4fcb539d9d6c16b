"""Done-when for the inbox: each demo role does its own work through a whole PPM-to-ADM pathway in the web app.

Each step is found in the right person's inbox, claimed, completed through its form, and the
"what happens next" page names where the case went.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time

from markupsafe import escape

from engine import services
from tests.webclient import Staff

PATH = [  # (who, element, day done, answers)
    ("sw.alice", "Task_FamilyNetworkMeeting", "2026-12-22", {"family_meeting_held": True,
                                                             "family_meeting_date": "2026-12-22"}),
    ("sw.alice", "Task_ParallelPlan", "2027-01-11", {"parallel_plan_date": "2027-01-11", "main_plan": "reunification",
                                                     "parallel_plan": "adoption",
                                                     "ffa_considered": "considered_not_suitable"}),
    ("iro.bob", "Task_FirstReview", "2027-01-20", {"first_review_date": "2027-01-20", "ppm_requested": True}),
    ("sw.alice", "Task_UpdateCarePlan", "2027-02-10", {"care_plan_updated_date": "2027-02-10"}),
    ("tm.carol", "Task_DecidePPM", "2027-02-10", {"ppm_needed": True}),
    ("sw.alice", "Task_PreparePlan", "2027-02-12", {"plan_circulated_date": "2027-02-12", "possible_plan": "adoption"}),
    ("sw.alice", "Task_SendInvitations", "2027-02-15", {"invitations_sent_date": "2027-02-15",
                                                        "carer_invited": "foster_carer", "supervising_sw_invited": True,
                                                        "specialist_invited": True, "guardian_invited": "no_guardian"}),
    ("sw.alice", "Task_ChildWishes", "2027-02-16", {"wishes_date": "2027-02-16", "wishes_how": "direct_work",
                                                    "wishes_summary": "wants to stay with her carers"}),
    ("sw.alice", "Task_ConsultAdoptionTM", "2027-02-16", {"adoption_tm_consulted_date": "2027-02-16",
                                                          "adoption_tm_view": "a match is likely within a year"}),
    ("sw.alice", "Task_InviteLegal", "2027-02-17", {"legal_invited_date": "2027-02-17",
                                                    "legal_attendance": "attending"}),
    ("tm.carol", "Task_HoldPPM", "2027-02-24", {"ppm_date": "2027-02-24", "permanence_option": "adoption",
                                                "contingency_plan": "long_term_fostering",
                                                "cannot_live_with_parents": True}),
    ("sw.alice", "Task_TellCarers", "2027-02-25", {"carers_told_date": "2027-02-25"}),
    ("afw.ada", "Task_AdoptionAdvice", "2027-03-01", {"adoption_advice_date": "2027-03-01"}),
    ("tm.carol", "Task_SendMinutes", "2027-03-30", {"minutes_sent_date": "2027-03-30"}),
    ("sw.alice", "Task_InformParents", "2027-04-01", {"parents_informed_date": "2027-04-01"}),
    ("iro.bob", "Task_SecondReview", "2027-04-08", {"second_review_date": "2027-04-08", "plan_ratified": True,
                                                    "permanence_option": "adoption",
                                                    "contingency_plan": "long_term_fostering"}),
    ("sw.alice", "Task_CPR", "2027-04-20", {"cpr_completed_date": "2027-04-20"}),
    ("tm.carol", "Task_QualityAssureCPR", "2027-04-22", {"cpr_approved": True, "cpr_qa_date": "2027-04-22"}),
    ("legal.lee", "Task_LegalGateway", "2027-05-05", {"legal_advice_date": "2027-05-05"}),
    ("adm.dev", "Task_ADMDecision", "2027-05-12", {"adm_decision": "placed_for_adoption",
                                                   "adm_decision_date": "2027-05-12",
                                                   "adm_reasons": "welfare checklist considered"}),
    ("sw.alice", "Task_NotifyParents", "2027-05-13", {"parents_notified_date": "2027-05-13"}),
    ("legal.lee", "Task_PlacementOrder", "2027-05-20", {"placement_order_application_date": "2027-05-20"}),
    ("iro.bob", "Task_CLAReview", "2027-08-05", {"cla_review_date": "2027-08-05", "still_looked_after": False,
                                                 "under_placement_order": True, "further_ppm_trigger": "none"}),
    # the reviews run on to the end
]  # fmt: skip


def _on(now, day: str) -> None:
    now.set(datetime.combine(datetime.fromisoformat(day).date(), time(10), tzinfo=UTC))


def test_every_role_does_its_part_of_a_whole_ppm_to_adm_pathway_in_the_web_app(app, rt, now):
    staff = {name: Staff(app, name) for name in {who for who, *_ in PATH}}
    alice = staff["sw.alice"]
    started = alice.post("/start", {"pathway": "ppm_to_adm", "ref": "CH-2001", "team": "north",
                                    "date_of_birth-day": "1", "date_of_birth-month": "3", "date_of_birth-year": "2020",
                                    "looked_after_date-day": "18", "looked_after_date-month": "12",
                                    "looked_after_date-year": "2026", "in_care_proceedings": "no"})  # fmt: skip
    case_path = started.headers["Location"]
    assert re.fullmatch(r"/cases/\d+", case_path)
    for who, element, day, answers in PATH:
        _on(now, day)
        person = staff[who]
        [task] = [t for t in services.list_tasks(rt, ref="CH-2001") if t["element"] == element]
        assert f'data-task="{task["id"]}"' in person.get("/?tab=unassigned").text, (who, element)
        person.post(f"/tasks/{task['id']}/claim", {"back": "/"})
        assert f'data-task="{task["id"]}"' in person.get("/?tab=mine").text
        done = person.complete(task["id"], **answers)
        assert done.headers["Location"] == f"/tasks/{task['id']}/done"
        next_page = person.get(done.headers["Location"]).text
        assert "What happens next" in next_page
        for waiting in services.list_tasks(rt, ref="CH-2001"):  # the next holders are named
            assert str(escape(waiting["title"])) in next_page
    assert "This pathway is complete" in next_page
    case = alice.get(case_path).text
    assert "ADM decided: should be placed for adoption" in case
    assert case.count("<strong>Step done</strong>") == len(PATH)  # the history, in plain words
    shown = services.show_case(rt, "CH-2001")
    assert shown["status"] == "completed"
    completed_by = [(e["actor"], e["element"]) for e in shown["audit"] if e["action"] == "task.completed"]
    assert completed_by == [(who, element) for who, element, *_ in PATH]
