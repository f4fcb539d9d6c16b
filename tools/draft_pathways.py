"""Draft the pathway diagrams in workflows/ (run once; then edit the .bpmn files in a modeller).

    .venv/bin/python tools/draft_pathways.py [KEY ...]

Domain source: ../shared/domain/pathways.md and timescales.md. Every clock names its source and
status label (STAT, GUID, LOCAL, CASE, OURS).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bpmn_builder import Diagram, Field  # noqa: E402

WORKFLOWS = Path(__file__).resolve().parents[1] / "workflows"

PERMANENCE_OPTIONS = [
    ("reunification", "Reunification with parents"),
    ("connected_person", "Connected person (special guardianship or child arrangements order)"),
    ("long_term_fostering", "Long-term fostering"),
    ("adoption", "Adoption"),
    ("residential", "Residential care"),
]
CPPCR = "Care Planning, Placement and Case Review (England) Regulations 2010"
HERTS = "Hertfordshire permanence planning procedures"


def due(expr: str, source: str, status: str, anchor: str = "") -> dict[str, str]:
    found = {"due": expr, "due_source": source, "due_status": status}
    return {**found, "due_anchor": anchor} if anchor else found


def deadline(key: str, name: str, expr: str, source: str, status: str, anchor: str, met_by: str) -> dict[str, str]:
    base = f"deadline.{key}."
    return {base + "name": name, base + "due": expr, base + "source": source, base + "status": status,
            base + "anchor": anchor, base + "met_by": met_by}  # fmt: skip


def date_field(id: str, label: str, required: bool = True) -> Field:
    return Field(id, label, "date", required)


def yes_no(id: str, label: str, required: bool = True) -> Field:
    return Field(id, label, "boolean", required)


def choice(id: str, label: str, options: list[tuple[str, str]], required: bool = True) -> Field:
    return Field(id, label, "enum", required, options)


def text(id: str, label: str, required: bool = False) -> Field:
    return Field(id, label, "string", required, constraints={"maxlength": "2000"})


def ppm_to_adm() -> Diagram:
    d = Diagram(
        "ppm_to_adm",
        "Permanence planning meeting to agency decision",
        [
            ("social_worker", "Social worker"),
            ("team_manager", "Team manager"),
            ("services_manager", "Services manager"),
            ("iro", "Independent reviewing officer"),
            ("adoption_team", "Adoption team"),
            ("legal", "Childcare litigation (legal)"),
            ("adm", "Agency decision maker"),
        ],  # fmt: skip
        doc="From a child becoming looked after (or care proceedings starting) to a ratified permanence "
        "plan, and for adoption plans to the ADM's decision without panel. Source: pathways.md section 2.",
    )
    sw, tm, sm, iro, adopt, legal, adm = ("social_worker", "team_manager", "services_manager", "iro",
                                          "adoption_team", "legal", "adm")  # fmt: skip
    d.start("Start_LookedAfter", "Child looked after or proceedings issued", sw,
            form=[date_field("date_of_birth", "Child's date of birth"),
                  date_field("looked_after_date", "Date the child became looked after", required=False),
                  yes_no("in_care_proceedings", "Are care proceedings under way"),
                  date_field("proceedings_start_date", "Date the care proceedings were issued", required=False)],
            **deadline("first_review", "First CLA review",
                       "add_working_days(looked_after_date, 20) if looked_after_date else None",
                       f"{CPPCR} reg 33(1): within 20 working days of becoming looked after", "STAT",
                       "looked_after_date", "Task_FirstReview"),
            **deadline("ppm", "Permanence planning meeting held",
                       "add_weeks(looked_after_date, 10) if looked_after_date "
                       "else add_weeks(proceedings_start_date, 14)",
                       f"{HERTS} section 4: no more than 10 weeks after becoming looked after, or 14 weeks after "
                       "proceedings start for a child who is not looked after", "LOCAL",
                       "looked_after_date (else proceedings_start_date)", "Task_HoldPPM,Task_AgreeNoPPM"))  # fmt: skip
    d.script("Script_Anchors", "Work out the case clocks", sw,
             "clock_start = looked_after_date if looked_after_date else proceedings_start_date\n"
             "ppm_due = add_weeks(looked_after_date, 10) if looked_after_date "
             "else add_weeks(proceedings_start_date, 14)\n"
             "age_at_start = age_in_years(date_of_birth, clock_start)\n"
             "proceedings_weeks = 26\n"
             "first_review_date = None\n"
             "second_review_date = None\n"
             "second_review_due = None")  # fmt: skip
    d.par("Gateway_Tracks", sw)
    d.chain("Start_LookedAfter", "Script_Anchors", "Gateway_Tracks")

    # Court track: the 26-week clock, moved by each extension the court grants.
    d.xor("Gateway_InProceedings", "In care proceedings?", legal)
    d.script("Script_ProceedingsClock", "Start or move the 26-week clock", legal,
             "proceedings_end_due = add_days(proceedings_start_date, proceedings_weeks * 7 - 1)",
             **deadline("proceedings", "Care proceedings concluded (26 weeks)",
                        "add_days(proceedings_start_date, proceedings_weeks * 7 - 1)",
                        "Children Act 1989 s32(1)(a)(ii): 26 weeks beginning with the day of issue (day 1 is the issue "
                        "date); the court may extend by up to 8 weeks at a time (s32(5))", "STAT",
                        "proceedings_start_date", "End_ProceedingsConcluded"))  # fmt: skip
    d.user("Task_RecordCourtEvent", "Record a court extension or the end of proceedings", legal,
           [choice("court_event", "What happened", [("extension_granted", "The court extended the timetable"),
                                                    ("concluded", "The proceedings concluded")]),
            date_field("court_event_date", "Date of the hearing"),
            Field("extension_weeks", "Weeks of extension granted", "long", constraints={"min": "1", "max": "8"}),
            text("final_order", "Final order made (if concluded)")],
           doc="The 26-week timetable runs from the day the application was issued. Record each extension the "
           "court grants (up to 8 weeks at a time): the deadline moves, it is never reset.",
           **due("proceedings_end_due", "Children Act 1989 s32(1)(a)(ii) and s32(5)", "STAT",
                 "proceedings_start_date"))  # fmt: skip
    d.xor("Gateway_CourtEvent", "Extension or conclusion?", legal)
    d.script(
        "Script_Extend",
        "Add the extension",
        legal,
        "proceedings_weeks = proceedings_weeks + (extension_weeks if extension_weeks else 8)",
    )
    d.end("End_ProceedingsConcluded", "Proceedings concluded", legal)
    d.end("End_NotInProceedings", "Not in proceedings", legal)
    d.flow("Gateway_Tracks", "Gateway_InProceedings")
    d.flow(
        "Gateway_InProceedings",
        "Script_ProceedingsClock",
        "yes",
        "in_care_proceedings == True and proceedings_start_date is not None",
    )
    d.flow("Gateway_InProceedings", "End_NotInProceedings", "no", default=True)
    d.chain("Script_ProceedingsClock", "Task_RecordCourtEvent", "Gateway_CourtEvent")
    d.flow("Gateway_CourtEvent", "Script_Extend", "extended", "court_event == 'extension_granted'")
    d.flow("Gateway_CourtEvent", "End_ProceedingsConcluded", "concluded", default=True)
    d.flow("Script_Extend", "Script_ProceedingsClock")

    # Review and PPM track.
    d.xor("Gateway_LookedAfter", "Looked after?", iro)
    d.user(
        "Task_FirstReview",
        "Hold the first CLA review",
        iro,
        [
            date_field("first_review_date", "Date the first review was held"),
            yes_no("ppm_requested", "Has the IRO recorded that a permanence planning meeting must be held"),
        ],
        doc="The IRO chairs the first looked-after review and records there that a PPM must be held.",
        **due("add_working_days(looked_after_date, 20)", f"{CPPCR} reg 33(1)", "STAT", "looked_after_date"),
    )
    d.par("Gateway_AfterFirstReview", iro)
    d.user("Task_UpdateCarePlan", "Update the care plan after the first review", sw,
           [date_field("care_plan_updated_date", "Date the care plan was updated")],
           **due("add_days(first_review_date, 28)", f"{HERTS}: care plan updated 28 days after the first review",
                 "LOCAL", "first_review_date"))  # fmt: skip
    d.end("End_CarePlanUpdated", "Care plan updated", sw)
    d.xor("Gateway_ToDecision", "", tm)
    d.user("Task_DecidePPM", "Decide whether a permanence planning meeting is needed", tm,
           [yes_no("ppm_needed", "Is a permanence planning meeting needed"),
            text("no_ppm_reason", "If not, why not")],
           doc="A PPM is required for every child under 12; not holding one needs the services manager's agreement.",
           **due("add_working_days(clock_start, 25)", "Our default: decide within 5 WD after the first review is due",
                 "OURS", "clock_start"))  # fmt: skip
    d.xor("Gateway_PPMNeeded", "PPM needed?", tm)
    d.xor("Gateway_Under12", "Under 12?", tm)
    d.user("Task_AgreeNoPPM", "Agree not to hold a PPM for a child under 12", sm,
           [yes_no("sm_agrees", "Do you agree that no PPM is needed"),
            date_field("specialist_discussion_date", "Date of the discussion with the specialist team"),
            text("no_ppm_decision", "The decision and its reasons", required=True)],
           doc="Needs the services manager's agreement, a recorded specialist-team discussion and the recorded "
           "decision (Hertfordshire section 4).",
           **due("ppm_due", f"{HERTS} section 4", "LOCAL", "clock_start"))  # fmt: skip
    d.xor("Gateway_SMAgrees", "Agreed?", sm)
    d.end(
        "End_NoPPMAgreed",
        "No PPM: services manager agreed",
        sm,
        outcome="no PPM: services manager agreed (child under 12)",
    )
    d.end("End_NoPPMNeeded", "No PPM needed (12 or over)", tm, outcome="no PPM needed (child 12 or over)")
    d.xor("Gateway_ToPlan", "", sw)
    d.user("Task_PreparePlan", "Complete and circulate the permanence plan", sw,
           [date_field("plan_circulated_date", "Date the plan was circulated to invitees"),
            choice("possible_plan", "Likely permanence option", PERMANENCE_OPTIONS),
            yes_no("sibling_checklist_done", "Sibling checklist completed (siblings with existing relationships)",
                   required=False)],
           doc="Complete the Child and Young Person's Permanence Plan and circulate it. Consult the Adoption TM if "
           "adoption is possible or the child is under 10, and the Fostering TM for long-term fostering or SGO. "
           "Invite legal for every child in proceedings and where adoption is preferred.",
           **due("add_working_days(ppm_due, -5)", f"{HERTS} section 4 (plan circulated before the PPM); "
                 "5 WD before is our default", "OURS", "ppm_due"))  # fmt: skip
    d.user(
        "Task_HoldPPM",
        "Chair the permanence planning meeting",
        tm,
        [
            date_field("ppm_date", "Date of the meeting"),
            choice("permanence_option", "Permanence option agreed", PERMANENCE_OPTIONS),
            choice("contingency_plan", "Contingency plan", PERMANENCE_OPTIONS),
            yes_no("cannot_live_with_parents", "Has it been decided that the child cannot live with their parents"),
        ],
        doc="Chaired by the TM or SM, with the specialist-service TM, social worker, supervising social worker, "
        "carer and the children's guardian. Sibling groups: one meeting, a plan per child.",
        **due("ppm_due", f"{HERTS} section 4", "LOCAL", "looked_after_date (else proceedings_start_date)"),
    )
    d.boundary_timer("Timer_PPMOverdue", "PPM overdue", "Task_HoldPPM", "ppm_due")
    d.user("Task_PPMOverdue", "PPM overdue: agree a date and record the reason for delay", sm,
           [text("ppm_delay_reason", "Reason for delay", required=True),
            date_field("agreed_ppm_date", "Date the PPM will be held")],
           **due("add_working_days(ppm_due, 2)", "Escalation ladder: services manager 2 WD after the due date (OURS)",
                 "OURS", "ppm_due"))  # fmt: skip
    d.end("End_PPMEscalated", "Delay recorded", sm)
    d.script(
        "Script_AfterPPM",
        "Work out the review and ADM clocks",
        tm,
        "second_review_due = earliest(add_months(first_review_date, 3), add_weeks(looked_after_date, "
        "14 if in_care_proceedings else 16)) if first_review_date else None\n"
        "age_at_ppm = age_in_years(date_of_birth, ppm_date)\n"
        "adm_route = permanence_option == 'adoption' or (age_at_ppm < 10 and cannot_live_with_parents == True)",
    )
    d.par("Gateway_AfterPPM", tm)
    d.user(
        "Task_SendMinutes",
        "Send the PPM minutes and summary to the IRO",
        tm,
        [date_field("minutes_sent_date", "Date the minutes were sent")],
        **due(
            "add_working_days(second_review_due, -5) if second_review_due else add_working_days(ppm_date, 5)",
            f"{HERTS}: minutes to the IRO at least 5 WD before the second review",
            "LOCAL",
            "second_review_due",
        ),
    )
    d.xor("Gateway_AdoptionAdvice", "Adoption or under 10?", adopt)
    d.user("Task_AdoptionAdvice", "Give adoption advice to the social worker and IRO", adopt,
           [date_field("adoption_advice_date", "Date the advice was given"), text("adoption_advice", "Advice")],
           **due("add_working_days(ppm_date, 5)", f"{HERTS}: adoption advice within 5 WD of the PPM", "LOCAL",
                 "ppm_date"))  # fmt: skip
    d.xor("Gateway_AdviceDone", "", adopt)
    d.user("Task_InformParents", "Inform the parents and send them the PPM summary", sw,
           [date_field("parents_informed_date", "Date the parents were informed")],
           **due("add_days(second_review_due, -5) if second_review_due else add_working_days(ppm_date, 5)",
                 f"{HERTS}: parents told and sent the summary 5 days before the second review", "LOCAL",
                 "second_review_due"))  # fmt: skip
    d.par("Gateway_AfterPPMJoin", tm)
    d.xor("Gateway_SecondReview", "Looked after?", iro)
    d.user("Task_SecondReview", "Hold the second CLA review and ratify the permanence plan", iro,
           [date_field("second_review_date", "Date the second review was held"),
            yes_no("plan_ratified", "Did the review ratify the permanence plan"),
            choice("permanence_option", "Permanence option", PERMANENCE_OPTIONS),
            choice("contingency_plan", "Contingency plan", PERMANENCE_OPTIONS)],
           doc="The permanence plan is presented at the second review. The earlier of the statutory and local "
           "limits applies.",
           **due("second_review_due", f"{CPPCR} reg 33(2): within 3 months of the first review; {HERTS}: 14 weeks "
                 "(in proceedings) or 16 weeks after becoming looked after; the earlier applies", "STAT",
                 "first_review_date / looked_after_date"))  # fmt: skip
    d.boundary_timer("Timer_SecondReviewOverdue", "Second review overdue", "Task_SecondReview", "second_review_due")
    d.user("Task_SecondReviewOverdue", "Second review overdue: record the reason for delay", tm,
           [text("review_delay_reason", "Reason for delay", required=True)],
           **due("add_working_days(second_review_due, 2)", "Escalation ladder: team manager 2 WD after the due date",
                 "OURS", "second_review_due"))  # fmt: skip
    d.end("End_ReviewEscalated", "Delay recorded", tm)
    d.xor("Gateway_Ratified", "Plan ratified?", iro)
    d.script(
        "Script_FurtherPPM", "Set the date for a further PPM", tm, "ppm_due = add_working_days(second_review_date, 20)"
    )
    d.xor("Gateway_ADMRoute", "Adoption or under 10?", tm)
    d.end(
        "End_PlanRatified",
        "Permanence plan ratified",
        tm,
        outcome="permanence plan ratified",
        outcome_detail="permanence_option + ' (contingency: ' + contingency_plan + ')'",
    )

    # ADM track (court route: no adoption panel since 1 September 2012).
    d.script(
        "Script_ADMClock",
        "Start the ADM track",
        sw,
        "adm_track_start = second_review_date if second_review_date else ppm_date",
    )
    d.user("Task_CPR", "Write the Child's Permanence Report", sw,
           [date_field("cpr_completed_date", "Date the CPR was completed")],
           doc="Adoption Agencies Regulations 2005 reg 17. The CPR must reflect the guardian's views and the expert "
           "reports.",
           **due("add_working_days(adm_track_start, 20)", "Our default: 20 WD from the plan being confirmed", "OURS",
                 "adm_track_start"))  # fmt: skip
    d.user("Task_QualityAssureCPR", "Quality-assure the CPR with the agency adviser", tm,
           [yes_no("cpr_approved", "Is the CPR ready for the agency decision maker"),
            date_field("cpr_qa_date", "Date of the quality assurance"), text("cpr_qa_notes", "What needs changing")],
           **due("add_working_days(cpr_completed_date, 5)", "Blackburn: agency adviser QA within 5 WD", "LOCAL",
                 "cpr_completed_date"))  # fmt: skip
    d.xor("Gateway_CPRApproved", "CPR ready?", tm)
    d.user("Task_LegalGateway", "Give legal advice for the agency decision maker", legal,
           [date_field("legal_advice_date", "Date the legal advice was given")],
           **due("add_working_days(cpr_qa_date, 10)", "Our default: 10 WD after the CPR is approved", "OURS",
                 "cpr_qa_date"))  # fmt: skip
    d.user("Task_ADMDecision", "Decide whether the child should be placed for adoption", adm,
           [choice("adm_decision", "Decision", [("placed_for_adoption", "The child should be placed for adoption"),
                                                ("not_placed", "Adoption is not the plan")]),
            date_field("adm_decision_date", "Date of the decision"),
            text("adm_reasons", "Material considered and reasons (ACA 2002 s1 welfare checklist)", required=True)],
           doc="Court route: the ADM decides without an adoption panel (Adoption Agencies (Panel and Consequential "
           "Amendments) Regulations 2012).",
           **due("add_working_days(legal_advice_date, 7)", "Statutory guidance on adoption: ADM decision within 7 WD "
                 "of receiving the papers (timescales.md R6; the child-case paragraph is unverified)", "GUID",
                 "legal_advice_date"))  # fmt: skip
    d.user("Task_NotifyParents", "Notify the parents of the ADM decision in writing", sw,
           [date_field("parents_notified_date", "Date the written notice was sent")],
           **due("add_working_days(adm_decision_date, 5)", "Adoption Agencies Regulations 2005 reg 19(3) (written "
                 "notice); 5 WD is our configurable default: the 2 WD oral / 5 WD written rule is unverified", "OURS",
                 "adm_decision_date"))  # fmt: skip
    d.xor("Gateway_ADMDecision", "Decision?", adm)
    d.user("Task_PlacementOrder", "Apply for a placement order within the care proceedings", legal,
           [date_field("placement_order_application_date", "Date the application was made")],
           **due("add_working_days(adm_decision_date, 20)", "Adoption and Children Act 2002 s22 (duty once satisfied; "
                 "timing per court directions); 20 WD is our default", "OURS", "adm_decision_date"))  # fmt: skip
    d.end(
        "End_ADMAdoption",
        "Should be placed for adoption",
        legal,
        outcome="ADM decided: should be placed for adoption",
        outcome_detail="'placement order applied for'",
    )
    d.end("End_ADMNotAdoption", "Adoption not the plan", adm, outcome="ADM decided: adoption is not the plan")

    d.flow("Gateway_Tracks", "Gateway_LookedAfter")
    d.flow("Gateway_LookedAfter", "Task_FirstReview", "yes", "looked_after_date is not None")
    d.flow("Gateway_LookedAfter", "Gateway_ToDecision", "no", default=True)
    d.chain("Task_FirstReview", "Gateway_AfterFirstReview")
    d.chain("Gateway_AfterFirstReview", "Task_UpdateCarePlan", "End_CarePlanUpdated")
    d.chain("Gateway_AfterFirstReview", "Gateway_ToDecision", "Task_DecidePPM", "Gateway_PPMNeeded")
    d.flow("Gateway_PPMNeeded", "Gateway_ToPlan", "yes", "ppm_needed == True")
    d.flow("Gateway_PPMNeeded", "Gateway_Under12", "no", default=True)
    d.flow("Gateway_Under12", "Task_AgreeNoPPM", "under 12", "age_at_start < 12")
    d.flow("Gateway_Under12", "End_NoPPMNeeded", "12 or over", default=True)
    d.chain("Task_AgreeNoPPM", "Gateway_SMAgrees")
    d.flow("Gateway_SMAgrees", "End_NoPPMAgreed", "agreed", "sm_agrees == True")
    d.flow("Gateway_SMAgrees", "Gateway_ToPlan", "not agreed", default=True)
    d.chain("Gateway_ToPlan", "Task_PreparePlan", "Task_HoldPPM", "Script_AfterPPM", "Gateway_AfterPPM")
    d.chain("Timer_PPMOverdue", "Task_PPMOverdue", "End_PPMEscalated")
    d.chain("Gateway_AfterPPM", "Task_SendMinutes", "Gateway_AfterPPMJoin")
    d.flow("Gateway_AfterPPM", "Gateway_AdoptionAdvice")
    d.flow("Gateway_AdoptionAdvice", "Task_AdoptionAdvice", "yes", "adm_route == True")
    d.flow("Gateway_AdoptionAdvice", "Gateway_AdviceDone", "no", default=True)
    d.chain("Task_AdoptionAdvice", "Gateway_AdviceDone", "Gateway_AfterPPMJoin")
    d.chain("Gateway_AfterPPM", "Task_InformParents", "Gateway_AfterPPMJoin")
    d.chain("Gateway_AfterPPMJoin", "Gateway_SecondReview")
    d.flow("Gateway_SecondReview", "Task_SecondReview", "yes", "first_review_date is not None")
    d.flow("Gateway_SecondReview", "Gateway_ADMRoute", "no", default=True)
    d.chain("Timer_SecondReviewOverdue", "Task_SecondReviewOverdue", "End_ReviewEscalated")
    d.chain("Task_SecondReview", "Gateway_Ratified")
    d.flow("Gateway_Ratified", "Gateway_ADMRoute", "ratified", "plan_ratified == True")
    d.flow("Gateway_Ratified", "Script_FurtherPPM", "no final plan", default=True)
    d.flow("Script_FurtherPPM", "Gateway_ToPlan")
    d.flow(
        "Gateway_ADMRoute",
        "Script_ADMClock",
        "yes",
        "permanence_option == 'adoption' or (age_in_years(date_of_birth, ppm_date) < 10 "
        "and cannot_live_with_parents == True)",
    )
    d.flow("Gateway_ADMRoute", "End_PlanRatified", "no", default=True)
    d.chain("Script_ADMClock", "Task_CPR", "Task_QualityAssureCPR", "Gateway_CPRApproved")
    d.flow("Gateway_CPRApproved", "Task_LegalGateway", "ready", "cpr_approved == True")
    d.flow("Gateway_CPRApproved", "Task_CPR", "changes needed", default=True)
    d.chain("Task_LegalGateway", "Task_ADMDecision", "Task_NotifyParents", "Gateway_ADMDecision")
    d.flow("Gateway_ADMDecision", "Task_PlacementOrder", "place for adoption", "adm_decision == 'placed_for_adoption'")
    d.flow("Gateway_ADMDecision", "End_ADMNotAdoption", "not adoption", default=True)
    d.chain("Task_PlacementOrder", "End_ADMAdoption")
    return d


DERBY = "Derby permanency policy"
PANEL_DECISIONS = [("approve", "Approve"), ("reject", "Reject"), ("defer", "Defer")]


def permanency_panel() -> Diagram:
    d = Diagram(
        "permanency_panel",
        "Permanency panel: booking and decision",
        [
            ("social_worker", "Social worker"),
            ("panel_support", "Panel support"),
            ("permanency_panel", "Permanency panel chair"),
            ("team_manager", "Team manager"),
        ],  # fmt: skip
        doc="Shared by the SGO and placement-order revocation pathways. The caller sets panel_ready_date; the "
        "case is booked onto the first panel after it. Panel sits monthly on the last Wednesday (Derby).",
    )
    sw, support, chair, tm = "social_worker", "panel_support", "permanency_panel", "team_manager"
    d.start("Start_Panel", "Case ready for panel", support)
    d.script("Script_BookPanel", "Book the first panel after the ready date", support,
             "panel_date = first_panel_date_on_or_after(add_days(panel_ready_date, 1))\n"
             "panel_decision = None")  # fmt: skip
    d.user("Task_RemindSocialWorker", "Remind the social worker that the case is at panel in 2 weeks", support,
           [date_field("panel_reminder_sent_date", "Date the reminder was sent")],
           **due("add_weeks(panel_date, -2)", f"{DERBY}: panel support reminds the social worker 2 weeks before",
                 "LOCAL", "panel_date"))  # fmt: skip
    d.user(
        "Task_SubmitPaperwork",
        "Submit the panel paperwork (BAAF form C and support plan)",
        sw,
        [
            date_field("paperwork_submitted_date", "Date the paperwork was submitted"),
            yes_no("support_plan_included", "Is the support plan included"),
        ],
        doc="Paperwork is due one week before panel, otherwise the case is removed from the list and the team "
        "manager is told.",
        **due("add_weeks(panel_date, -1)", f"{DERBY}: paperwork 1 week before panel", "LOCAL", "panel_date"),
    )
    d.boundary_timer("Timer_PaperworkLate", "Paperwork late", "Task_SubmitPaperwork", "add_weeks(panel_date, -1)",
                     cancel=True)  # fmt: skip
    d.user("Task_RemovedFromPanel", "Paperwork late: case removed from the panel list", tm,
           [text("paperwork_delay_reason", "Reason for delay", required=True)],
           doc="Derby: when the paperwork is late the case is removed from the list and the team manager is told. "
           "The case is booked onto the next panel.",
           **due("add_working_days(add_weeks(panel_date, -1), 2)", "Escalation to the team manager within 2 WD (OURS)",
                 "OURS", "panel_date"))  # fmt: skip
    d.script("Script_NextPanel", "Move to the next panel", tm, "panel_ready_date = panel_date")
    d.user(
        "Task_PanelDecision",
        "Record the panel's recommendation",
        chair,
        [
            choice("panel_decision", "Panel decision", PANEL_DECISIONS),
            date_field("panel_held_date", "Date the panel sat"),
            text("panel_reasons", "Reasons and conditions", required=True),
        ],
        doc="The adoption social worker and the children-in-care social worker both attend (Derby).",
        not_before="panel_date",
        not_before_source=f"{DERBY}: the panel sits on the last Wednesday of the month",
        **due("panel_date", f"{DERBY}: panel sits monthly on the last Wednesday", "LOCAL", "panel_date"),
    )
    d.par("Gateway_AfterPanel", chair)
    d.user("Task_PanelMinutes", "Circulate the panel minutes", support,
           [date_field("panel_minutes_date", "Date the minutes were circulated")],
           **due("add_working_days(panel_held_date, 5)", f"{DERBY}: minutes within 5 WD of panel", "LOCAL",
                 "panel_held_date"))  # fmt: skip
    d.user("Task_VisitChildAfterPanel", "Visit the child to explain the panel's decision", sw,
           [date_field("post_panel_visit_date", "Date of the visit")],
           **due("add_working_days(panel_held_date, 5)", f"{DERBY}: social worker visits the child after every "
                 "outcome; 5 WD is our default", "OURS", "panel_held_date"))  # fmt: skip
    d.user("Task_ChairLetter", "Send the chair's letter to the carers", chair,
           [date_field("chair_letter_date", "Date the letter was sent")],
           **due("add_working_days(panel_held_date, 5)", f"{DERBY}: chair's letter after every outcome; 5 WD is our "
                 "default", "OURS", "panel_held_date"))  # fmt: skip
    d.xor("Gateway_Outcome", "Decision?", tm)
    d.user("Task_UrgentCarePlanning", "Make an urgent care-planning decision", tm,
           [text("care_planning_decision", "Decision", required=True), date_field("care_planning_date", "Date")],
           **due("add_working_days(panel_held_date, 2)", f"{DERBY}: rejection needs an urgent care-planning decision; "
                 "2 WD is our default", "OURS", "panel_held_date"))  # fmt: skip
    d.user("Task_DeferralActionPlan", "Agree the deferral action plan with timescales", sw,
           [text("deferral_actions", "Actions, owners and timescales", required=True)],
           **due("add_working_days(panel_held_date, 5)", f"{DERBY}: deferral needs an action plan and re-booking on "
                 "the next panel; 5 WD is our default", "OURS", "panel_held_date"))  # fmt: skip
    d.xor("Gateway_OutcomeDone", "", tm)
    d.par("Gateway_AfterPanelJoin", chair)
    d.xor("Gateway_Deferred", "Deferred?", chair)
    d.end("End_PanelDone", "Panel decision made", chair)
    d.chain("Start_Panel", "Script_BookPanel", "Task_RemindSocialWorker", "Task_SubmitPaperwork", "Task_PanelDecision",
            "Gateway_AfterPanel")  # fmt: skip
    d.chain("Timer_PaperworkLate", "Task_RemovedFromPanel", "Script_NextPanel")
    d.flow("Script_NextPanel", "Script_BookPanel")
    for task in ("Task_PanelMinutes", "Task_VisitChildAfterPanel", "Task_ChairLetter"):
        d.chain("Gateway_AfterPanel", task, "Gateway_AfterPanelJoin")
    d.flow("Gateway_AfterPanel", "Gateway_Outcome")
    d.flow("Gateway_Outcome", "Task_UrgentCarePlanning", "reject", "panel_decision == 'reject'")
    d.flow("Gateway_Outcome", "Task_DeferralActionPlan", "defer", "panel_decision == 'defer'")
    d.flow("Gateway_Outcome", "Gateway_OutcomeDone", "approve", default=True)
    d.chain("Task_UrgentCarePlanning", "Gateway_OutcomeDone")
    d.chain("Task_DeferralActionPlan", "Gateway_OutcomeDone", "Gateway_AfterPanelJoin", "Gateway_Deferred")
    d.flow("Gateway_Deferred", "Script_NextPanel", "deferred", "panel_decision == 'defer'")
    d.flow("Gateway_Deferred", "End_PanelDone", "decided", default=True)
    return d


def sgo_assessment() -> Diagram:
    d = Diagram(
        "sgo_assessment",
        "Special guardianship assessment within 12 weeks",
        [
            ("social_worker", "Child's social worker"),
            ("sgo_assessor", "SGO assessor (kinship team)"),
            ("team_manager", "Team manager"),
            ("nominated_officer", "Nominated officer"),
        ],  # fmt: skip
        doc="From carers expressing an interest in an SGO to the panel's decision and the court's order. "
        "Source: pathways.md section 4 (Derby) and timescales.md section 5.",
    )
    sw, assessor, tm, officer = "social_worker", "sgo_assessor", "team_manager", "nominated_officer"
    d.start(
        "Start_Interest",
        "Carers express an interest in an SGO",
        assessor,
        form=[
            date_field("expression_of_interest_date", "Date of the expression of interest"),
            date_field(
                "assessment_request_date", "Date the formal request to be assessed was received", required=False
            ),
            choice(
                "carer_type",
                "Who are the carers",
                [
                    ("connected_person", "Connected persons (family or friends)"),
                    ("foster_carer", "The child's foster carers"),
                ],
            ),
            date_field("placement_start_date", "Date the child's placement with them started", required=False),
        ],
    )
    d.par("Gateway_Tracks", assessor)
    d.user("Task_VisitCarers", "Visit the carers to share information about SGOs", assessor,
           [date_field("carers_visit_date", "Date of the visit"),
            yes_no("carers_proceed", "Do the carers want to be assessed")],
           **due("add_weeks(expression_of_interest_date, 2)", f"{DERBY}: visit within 2 weeks of the expression of "
                 "interest", "LOCAL", "expression_of_interest_date"))  # fmt: skip
    d.xor("Gateway_Proceed", "Carers proceed?", assessor)
    d.end(
        "End_NotProceeding",
        "Carers did not proceed",
        assessor,
        outcome="SGO application withdrawn",
        outcome_detail="'the carers decided not to be assessed'",
    )
    d.xor("Gateway_RequestKnown", "Request received?", assessor)
    d.user("Task_RecordRequest", "Record the formal request to be assessed", assessor,
           [date_field("assessment_request_date", "Date the formal request was received")],
           **due("add_weeks(carers_visit_date, 4)", "Our default: the formal request within 4 weeks of the visit",
                 "OURS", "carers_visit_date"))  # fmt: skip
    d.xor("Gateway_RequestDone", "", assessor)
    d.script("Script_AssessmentClock", "Start the 12-week clock", assessor,
             "twelve_week_date = add_weeks(assessment_request_date, 12)\npanel_ready_date = twelve_week_date",
             **deadline("assessment", "SGO assessment completed (12 weeks)", "add_weeks(assessment_request_date, 12)",
                        f"{DERBY}: assessment completed no later than 12 weeks from receipt of the request", "LOCAL",
                        "assessment_request_date", "Task_CompleteAssessment"),
             **deadline("court_report", "Report ready before the 3-month notice ends",
                        "add_months(assessment_request_date, 3)",
                        "Children Act 1989 s14A(7)-(8): 3 months' written notice, and the authority must report "
                        "(report deadline inferred from the notice period; notice taken as the request date)", "STAT",
                        "assessment_request_date", "Task_CompleteAssessment"))  # fmt: skip
    d.user("Task_AllocateAssessment", "Allocate the assessment and record its timeline", tm,
           [date_field("allocated_on", "Date allocated"), yes_no("timeline_recorded",
            "Timeline recorded in supervision (request date, 12-week date, panel date)")],
           **due("add_working_days(assessment_request_date, 5)", f"{DERBY}: allocate on receipt of the request; "
                 "5 WD is our default", "OURS", "assessment_request_date"))  # fmt: skip
    d.user("Task_CompleteAssessment", "Complete the SGO assessment and support plan", assessor,
           [date_field("assessment_completed_date", "Date the assessment was completed"),
            choice("assessment_recommendation", "Recommendation", [("recommend", "Recommend an SGO"),
                                                                   ("not_recommended", "Do not recommend")]),
            yes_no("support_plan_done", "Is the SGO support plan written"),
            yes_no("application_withdrawn", "Have the carers withdrawn their application", required=False)],
           doc="Special Guardianship Regulations 2005 reg 21 and Schedule (as amended 2016); the support plan "
           "accompanies the report.",
           **due("twelve_week_date", f"{DERBY}: 12 weeks from receipt of the request", "LOCAL",
                 "assessment_request_date"))  # fmt: skip
    d.boundary_timer("Timer_AssessmentOverdue", "Assessment overdue", "Task_CompleteAssessment", "twelve_week_date")
    d.user("Task_AssessmentOverdue", "Assessment overdue: record the reason for delay in supervision", tm,
           [text("assessment_delay_reason", "Reason for delay", required=True)],
           **due("add_working_days(twelve_week_date, 2)", "Escalation ladder: team manager 2 WD after the due date",
                 "OURS", "twelve_week_date"))  # fmt: skip
    d.end("End_AssessmentDelayRecorded", "Delay recorded", tm)
    d.xor("Gateway_Withdrawn", "Withdrawn?", assessor)
    d.end(
        "End_Withdrawn",
        "Application withdrawn",
        assessor,
        outcome="SGO application withdrawn",
        outcome_detail="'withdrawn during the assessment'",
    )
    d.call("Call_Panel", "Permanency panel", sw, "permanency_panel")
    d.xor("Gateway_PanelDecision", "Approved?", sw)
    d.end("End_NotApproved", "Not approved at panel", sw, outcome="SGO assessment not approved at panel")
    d.user("Task_RecordCourtDecision", "Record the court's decision on the special guardianship order", sw,
           [yes_no("sgo_made", "Did the court make the special guardianship order"),
            date_field("court_decision_date", "Date of the court's decision")],
           **due("add_months(assessment_request_date, 3)", "Children Act 1989 s14A(7): the application may be made "
                 "3 months after notice; record the court's decision from then", "STAT",
                 "assessment_request_date"))  # fmt: skip
    d.xor("Gateway_SGOMade", "SGO made?", sw)
    d.end("End_SGOMade", "SGO made", sw, outcome="SGO made")
    d.end("End_SGONotMade", "SGO not made", sw, outcome="SGO not made by the court")

    # Connected-person placements: reg 24 temporary approval, one extension, hard stop.
    d.xor("Gateway_Connected", "Connected person placed?", officer)
    d.end("End_NoTemporaryApproval", "No temporary approval to track", officer)
    d.script("Script_TemporaryApproval", "Start the temporary approval clock", officer,
             "approval_expiry = add_weeks(placement_start_date, 16)\napproval_extended = False",
             **deadline("sgo_within_12_months", "SGO within 12 months of the placement starting",
                        "add_months(placement_start_date, 12)", f"{DERBY}: connected-person placements: SGO expected "
                        "within 12 months of the placement starting", "LOCAL", "placement_start_date",
                        "End_SGOMade"))  # fmt: skip
    d.script("Script_ApprovalClock", "Set the approval expiry", officer, "approval_review_due = add_weeks("
             "approval_expiry, -4)",
             **deadline("temporary_approval", "Temporary approval expires", "approval_expiry",
                        f"{CPPCR} reg 24 (16 weeks) and reg 25 (one extension of up to 8 weeks); at expiry without "
                        "approval the placement must end (reg 25(6))", "STAT", "placement_start_date",
                        "End_FullyApproved,Task_EndPlacement"))  # fmt: skip
    d.user("Task_ReviewTemporaryApproval", "Decide before temporary approval expires", tm,
           [choice("approval_status", "What happens", [("fully_approved", "The carers are fully approved"),
                                                       ("extend", "Ask the nominated officer to extend"),
                                                       ("end_placement", "The placement must end")])],
           doc="Escalated 4 weeks before expiry (recommended practice, timescales.md S7). Only one extension is "
           "possible; at expiry without approval the placement must end.",
           **due("approval_review_due", f"{CPPCR} reg 25(6): act 4 weeks before expiry (recommended)", "OURS",
                 "approval_expiry"))  # fmt: skip
    d.xor("Gateway_ApprovalStatus", "Approved, extend or end?", tm)
    d.end("End_FullyApproved", "Carers fully approved", tm)
    d.user(
        "Task_ApproveExtension",
        "Approve an extension of temporary approval",
        officer,
        [
            Field(
                "extension_weeks", "Weeks of extension (at most 8)", "long", True, constraints={"min": "1", "max": "8"}
            ),
            yes_no("fostering_panel_views", "Have the fostering panel's views been sought"),
            yes_no("iro_informed", "Has the IRO been informed"),
        ],
        **due("approval_expiry", f"{CPPCR} reg 25(1)(a), (2), (4), (5)", "STAT", "approval_expiry"),
    )
    d.script(
        "Script_Extend",
        "Extend the approval once",
        officer,
        "approval_expiry = add_weeks(approval_expiry, extension_weeks)\napproval_extended = True",
    )
    d.user(
        "Task_EndPlacement",
        "End the placement after making other arrangements",
        sw,
        [
            date_field("placement_end_date", "Date the placement ended"),
            text("new_arrangements", "Other arrangements made", required=True),
        ],
        **due("approval_expiry", f"{CPPCR} reg 25(6)", "STAT", "approval_expiry"),
    )
    d.end("End_PlacementEnded", "Placement ended", sw)

    d.chain("Start_Interest", "Gateway_Tracks", "Task_VisitCarers", "Gateway_Proceed")
    d.flow("Gateway_Proceed", "Gateway_RequestKnown", "yes", "carers_proceed == True")
    d.flow("Gateway_Proceed", "End_NotProceeding", "no", default=True)
    d.flow("Gateway_RequestKnown", "Gateway_RequestDone", "received", "assessment_request_date is not None")
    d.flow("Gateway_RequestKnown", "Task_RecordRequest", "not yet", default=True)
    d.chain("Task_RecordRequest", "Gateway_RequestDone", "Script_AssessmentClock", "Task_AllocateAssessment",
            "Task_CompleteAssessment", "Gateway_Withdrawn")  # fmt: skip
    d.chain("Timer_AssessmentOverdue", "Task_AssessmentOverdue", "End_AssessmentDelayRecorded")
    d.flow("Gateway_Withdrawn", "End_Withdrawn", "withdrawn", "application_withdrawn == True")
    d.flow("Gateway_Withdrawn", "Call_Panel", "to panel", default=True)
    d.chain("Call_Panel", "Gateway_PanelDecision")
    d.flow("Gateway_PanelDecision", "Task_RecordCourtDecision", "approved", "panel_decision == 'approve'")
    d.flow("Gateway_PanelDecision", "End_NotApproved", "rejected", default=True)
    d.chain("Task_RecordCourtDecision", "Gateway_SGOMade")
    d.flow("Gateway_SGOMade", "End_SGOMade", "yes", "sgo_made == True")
    d.flow("Gateway_SGOMade", "End_SGONotMade", "no", default=True)
    d.flow("Gateway_Tracks", "Gateway_Connected")
    d.flow(
        "Gateway_Connected",
        "Script_TemporaryApproval",
        "yes",
        "carer_type == 'connected_person' and placement_start_date is not None",
    )
    d.flow("Gateway_Connected", "End_NoTemporaryApproval", "no", default=True)
    d.chain("Script_TemporaryApproval", "Script_ApprovalClock", "Task_ReviewTemporaryApproval",
            "Gateway_ApprovalStatus")  # fmt: skip
    d.flow("Gateway_ApprovalStatus", "End_FullyApproved", "approved", "approval_status == 'fully_approved'")
    d.flow(
        "Gateway_ApprovalStatus",
        "Task_ApproveExtension",
        "extend",
        "approval_status == 'extend' and approval_extended == False",
    )
    d.flow("Gateway_ApprovalStatus", "Task_EndPlacement", "end", default=True)
    d.chain("Task_ApproveExtension", "Script_Extend")
    d.flow("Script_Extend", "Script_ApprovalClock")
    d.chain("Task_EndPlacement", "End_PlacementEnded")
    return d


DRAFTS = {"ppm_to_adm": ppm_to_adm, "permanency_panel": permanency_panel, "sgo_assessment": sgo_assessment}


def main(keys: list[str]) -> None:
    for key in keys or sorted(DRAFTS):
        path = WORKFLOWS / f"{key}.bpmn"
        path.write_bytes(DRAFTS[key]().to_xml())
        print(f"wrote {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
