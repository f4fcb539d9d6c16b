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


AAR = "Adoption Agencies Regulations 2005"
ACA = "Adoption and Children Act 2002"


def relinquished_baby() -> Diagram:
    d = Diagram(
        "relinquished_baby",
        "Relinquished baby: adoption with parental consent",
        [
            ("adoption_social_worker", "Adoption social worker"),
            ("social_worker", "Child's social worker"),
            ("team_manager", "Team manager"),
            ("legal", "Legal"),
            ("adoption_panel", "Adoption panel"),
            ("adm", "Agency decision maker"),
            ("iro", "Independent reviewing officer"),
        ],  # fmt: skip
        doc="A birth parent asks the authority to place the child for adoption (often before birth). The adoption "
        "worker is the responsible social worker. Source: pathways.md section 1 and timescales.md section 2.",
    )
    asw, sw, tm, legal, panel, adm, iro = ("adoption_social_worker", "social_worker", "team_manager", "legal",
                                           "adoption_panel", "adm", "iro")  # fmt: skip
    d.start(
        "Start_Request",
        "Birth parent asks for adoption",
        asw,
        form=[
            date_field("request_date", "Date the request was received"),
            date_field("date_of_birth", "Child's date of birth (if born)", required=False),
            date_field("expected_date_of_birth", "Expected date of birth (if not yet born)", required=False),
        ],
    )
    d.script("Script_Init", "Set the clocks", asw,
             "counselling_from = request_date\n"
             "consent_gate = add_days(date_of_birth, 42) if date_of_birth else None\n"
             "birth_or_due = date_of_birth if date_of_birth else expected_date_of_birth")  # fmt: skip
    d.user("Task_Allocate", "Allocate the child's social worker and an adoption social worker", tm,
           [date_field("allocated_on", "Date allocated")],
           **due("add_working_days(request_date, 2)", "Our default: allocate within 2 WD of the request", "OURS",
                 "request_date"))  # fmt: skip
    d.user("Task_SingleAssessment", "Record the single assessment", sw,
           [date_field("single_assessment_date", "Date the single assessment was recorded")],
           **due("add_working_days(request_date, 7)", "One Adoption West Yorkshire: single assessment within 7 WD "
                 "of the referral (timescales.md R1)", "LOCAL", "request_date"))  # fmt: skip
    d.user("Task_Counselling", "Counsel the birth parent about adoption and its alternatives", asw,
           [date_field("counselling_date", "Date of the counselling session"),
            yes_no("wishes_recorded", "Wishes on religion and contact recorded"),
            yes_no("more_counselling", "Is further counselling needed")],
           doc=f"{AAR} reg 14: explain the procedure, the legal effect of adoption and of s19/s20 consent, orally "
           "and in writing, and ascertain the parent's wishes. Repeat as often as needed.",
           **due("add_working_days(counselling_from, 10)", f"{AAR} reg 14 sets no period; 10 WD is our configurable "
                 "default", "OURS", "request_date"))  # fmt: skip
    d.xor("Gateway_MoreCounselling", "More counselling?", asw)
    d.script("Script_NextCounselling", "Next session", asw, "counselling_from = counselling_date")
    d.user("Task_Father", "Establish the father's parental responsibility and decide on notifying him", tm,
           [choice("father_has_pr", "Does the father have parental responsibility",
                   [("yes", "Yes: his consent is needed"), ("no", "No"), ("unknown", "Father not known")]),
            choice("father_notification", "Decision on notifying the father", [
                ("notify", "Notify and counsel him"), ("seek_directions", "Do not notify: seek the court's directions"),
                ("not_applicable", "Not applicable")]),
            text("father_decision_reasons", "Reasons", required=True)],
           doc="Statutory guidance on adoption (2013) paras 2.39-2.49; where the mother objects, take legal advice and "
           "seek the court's directions early (Re A, B and C [2020] EWCA Civ 41).",
           **due("add_weeks(birth_or_due, 2) if birth_or_due else add_working_days(request_date, 10)",
                 "Re A, B and C [2020] EWCA Civ 41: decide at a very early stage; birth + 2 weeks is the recommended "
                 "threshold (timescales.md R3)", "CASE", "date_of_birth"))  # fmt: skip
    d.xor("Gateway_Directions", "Seek directions?", tm)
    d.user("Task_SeekDirections", "Apply to the court for directions on not notifying the father", legal,
           [date_field("directions_application_date", "Date the application was issued")],
           **due("add_weeks(birth_or_due, 8) if birth_or_due else add_weeks(request_date, 8)",
                 "A LA v JK & W [2021] EWHC 33 (Fam): issue well before birth + 8 weeks (timescales.md R3)", "CASE",
                 "date_of_birth"))  # fmt: skip
    d.xor("Gateway_DirectionsDone", "", tm)
    d.user("Task_EarlyPermanence", "Consider a fostering-for-adoption placement", asw,
           [choice("early_permanence", "Placement decision", [("ffa", "Fostering for adoption"),
                                                              ("foster", "Foster placement"),
                                                              ("with_parent", "Stays with the birth parent")]),
            date_field("accommodated_date", "Date the child became looked after (s20), if placed", required=False),
            yes_no("placement_agreed_in_writing", "Did the parent agree in writing to an adoptive placement before "
                   "6 weeks", required=False)],
           doc="Children Act 1989 s22C(9A): consider placement with approved prospective adopters temporarily "
           "approved as foster carers (reg 25A).",
           **due("add_working_days(birth_or_due, 2) if birth_or_due else add_working_days(request_date, 10)",
                 "Our default: decide by discharge from hospital", "OURS", "date_of_birth"))  # fmt: skip
    d.xor("Gateway_Born", "Born?", sw)
    d.user("Task_RecordBirth", "Record the child's birth", sw,
           [date_field("date_of_birth", "Child's date of birth")],
           **due("add_working_days(expected_date_of_birth, 2)", "Our default: 2 WD after the expected date",
                 "OURS", "expected_date_of_birth"))  # fmt: skip
    d.script("Script_ConsentGate", "Set the consent gate", sw, "consent_gate = add_days(date_of_birth, 42)")
    d.xor("Gateway_BornDone", "", sw)
    d.user("Task_CPR", "Write the Child's Permanence Report", sw,
           [date_field("cpr_completed_date", "Date the CPR was completed")],
           doc=f"{AAR} regs 15-17: health report, family information and the CPR.",
           **due("add_weeks(date_of_birth, 3)", "Our default: ready for panel so that consent can be witnessed at "
                 "6 weeks", "OURS", "date_of_birth"))  # fmt: skip
    d.user("Task_AdoptionPanel", "Adoption panel: should the child be placed for adoption?", panel,
           [choice("panel_recommendation", "Recommendation", [("should_be_placed", "Should be placed for adoption"),
                                                              ("should_not_be_placed", "Should not be placed")]),
            date_field("adoption_panel_date", "Date of the panel"),
            date_field("final_minutes_received_date", "Date the final minutes were received")],
           doc=f"A relinquished case still goes to panel: no placement order is sought ({AAR} reg 18).",
           **due("add_working_days(cpr_completed_date, 15)", "Our default: panel 15 WD after the CPR", "OURS",
                 "cpr_completed_date"))  # fmt: skip
    d.user("Task_ADMDecision", "Decide whether the child should be placed for adoption", adm,
           [choice("adm_decision", "Decision", [("placed_for_adoption", "Should be placed for adoption"),
                                                ("not_placed", "Should not be placed")]),
            date_field("adm_decision_date", "Date of the decision"), text("adm_reasons", "Reasons", required=True)],
           **due("add_working_days(final_minutes_received_date, 7)", "Statutory guidance: within 7 WD of receiving "
                 "the panel's recommendation and final minutes (timescales.md R6)", "GUID",
                 "final_minutes_received_date"))  # fmt: skip
    d.user("Task_NotifyParent", "Notify the birth parent of the decision in writing", asw,
           [date_field("parent_notified_date", "Date the written notice was sent")],
           **due("add_working_days(adm_decision_date, 5)", f"{AAR} reg 19(3) (written notice); 5 WD is our "
                 "configurable default: the 2 WD oral / 5 WD written rule is unverified", "OURS",
                 "adm_decision_date"))  # fmt: skip
    d.xor("Gateway_ADM", "Decision?", adm)
    d.end("End_NotPlaced", "Should not be placed", adm, outcome="ADM decided: should not be placed for adoption")
    d.user("Task_RequestCafcass", "Ask Cafcass to appoint a reporting officer", asw,
           [date_field("cafcass_request_date", "Date Cafcass was asked (with the Schedule 2 information)")],
           **due("latest(add_days(date_of_birth, 28), add_working_days(adm_decision_date, 2))",
                 f"{AAR} reg 20 (no period); by 4 weeks old so consent can be witnessed at 6 weeks "
                 "(timescales.md R8)", "OURS", "date_of_birth"))  # fmt: skip
    d.user("Task_ConsentWitnessed", "Record consent witnessed by the Cafcass reporting officer", asw,
           [choice("consent_outcome", "Consent", [("given", "Consent to placement given (s19)"),
                                                  ("withdrawn", "Consent withdrawn"), ("refused", "Consent refused")]),
            date_field("consent_date", "Date"),
            yes_no("advance_consent", "Advance consent to adoption given (s20)", required=False)],
           not_before="consent_gate",
           not_before_source=f"{ACA} s52(3): a mother's consent less than 6 weeks after the birth is ineffective; good "
           "practice applies the same to s19 consent (A LA v C [2008] EWHC 2555 (Fam))",
           **due("add_days(date_of_birth, 56)", "Our default: 2 weeks after the earliest valid date (birth + 42 days)",
                 "OURS", "date_of_birth"))  # fmt: skip
    d.xor("Gateway_Consent", "Consent given?", asw)
    d.user("Task_ReturnChild", "Return the child to the parent, or seek an order", asw,
           [choice("return_outcome", "What happened", [("returned", "Child returned to the parent"),
                                                       ("order_sought", "Care proceedings or an order sought")]),
            date_field("return_date", "Date")],
           doc=f"{ACA} s31: when consent is withdrawn and the child is not yet placed for adoption, the child is "
           "returned within 7 days of the request unless an application is made.",
           **due("add_days(consent_date, 7)", f"{ACA} s31", "STAT", "consent_date"))  # fmt: skip
    d.end("End_CareProceedings", "Switched to care proceedings", asw,
          outcome="consent withdrawn: switched to care proceedings", start_pathway="ppm_to_adm",
          start_pathway_data="{'date_of_birth': date_of_birth, 'looked_after_date': accommodated_date, "
          "'in_care_proceedings': return_outcome == 'order_sought', 'proceedings_start_date': "
          "return_date if return_outcome == 'order_sought' else None}")  # fmt: skip
    d.script("Script_Authorised", "Authorised to place", asw, "authorised_date = consent_date",
             **deadline("adoption_review", "First adoption review while not placed", "add_months(consent_date, 3)",
                        f"{AAR} reg 36(1): within 3 months of authority to place, then every 6 months", "STAT",
                        "consent_date", "Task_PlaceWithAdopters"))  # fmt: skip
    d.user("Task_PlaceWithAdopters", "Match and place the child with the adopters", asw,
           [date_field("match_approved_date", "Date the ADM approved the match (regs 32-33)"),
            date_field("adoptive_placement_date", "Date of the adoptive placement")],
           not_before="add_days(date_of_birth, 42) if placement_agreed_in_writing != True else None",
           not_before_source=f"{AAR} reg 35(4): no adoptive placement before 6 weeks without the parent's written "
           "agreement",
           **due("add_months(consent_date, 3)", "Our default: placed before the first review falls due", "OURS",
                 "consent_date"))  # fmt: skip
    d.par("Gateway_Placed", asw)
    d.user("Task_FirstVisit", "Visit the child in the adoptive placement", asw,
           [date_field("first_visit_date", "Date of the visit")],
           **due("add_weeks(adoptive_placement_date, 1)", f"{AAR} reg 36(4)(a): within 1 week, then weekly until the "
                 "first review", "STAT", "adoptive_placement_date"))  # fmt: skip
    d.user("Task_FirstAdoptionReview", "Hold the first adoption review after placement", iro,
           [date_field("first_adoption_review_date", "Date of the review")],
           **due("add_weeks(adoptive_placement_date, 4)", f"{AAR} reg 36(3): within 4 weeks of placement", "STAT",
                 "adoptive_placement_date"))  # fmt: skip
    d.par("Gateway_PlacedJoin", asw)
    d.user("Task_AdoptionOrder", "Record the adoption application and the court's order", asw,
           [date_field("adoption_application_date", "Date the adopters applied"),
            yes_no("adoption_order_made", "Was the adoption order made"),
            date_field("adoption_order_date", "Date of the court's decision")],
           not_before="add_weeks(adoptive_placement_date, 10)",
           not_before_source=f"{ACA} s42(2): the child must have lived with the adopters for 10 weeks",
           **due("add_months(adoptive_placement_date, 6)", "Our default: the order within 6 months of placement",
                 "OURS", "adoptive_placement_date"))  # fmt: skip
    d.xor("Gateway_Order", "Order made?", asw)
    d.end("End_Adopted", "Adoption order made", asw, outcome="adoption order made")
    d.end("End_NoOrder", "No adoption order", asw, outcome="adoption order not made")

    d.chain("Start_Request", "Script_Init", "Task_Allocate", "Task_SingleAssessment", "Task_Counselling",
            "Gateway_MoreCounselling")  # fmt: skip
    d.flow("Gateway_MoreCounselling", "Script_NextCounselling", "more", "more_counselling == True")
    d.flow("Script_NextCounselling", "Task_Counselling")
    d.flow("Gateway_MoreCounselling", "Task_Father", "done", default=True)
    d.chain("Task_Father", "Gateway_Directions")
    d.flow("Gateway_Directions", "Task_SeekDirections", "seek directions", "father_notification == 'seek_directions'")
    d.flow("Gateway_Directions", "Gateway_DirectionsDone", "no", default=True)
    d.chain("Task_SeekDirections", "Gateway_DirectionsDone", "Task_EarlyPermanence", "Gateway_Born")
    d.flow("Gateway_Born", "Task_RecordBirth", "not yet born", "date_of_birth is None")
    d.flow("Gateway_Born", "Gateway_BornDone", "born", default=True)
    d.chain("Task_RecordBirth", "Script_ConsentGate", "Gateway_BornDone", "Task_CPR", "Task_AdoptionPanel",
            "Task_ADMDecision", "Task_NotifyParent", "Gateway_ADM")  # fmt: skip
    d.flow("Gateway_ADM", "Task_RequestCafcass", "place for adoption", "adm_decision == 'placed_for_adoption'")
    d.flow("Gateway_ADM", "End_NotPlaced", "not placed", default=True)
    d.chain("Task_RequestCafcass", "Task_ConsentWitnessed", "Gateway_Consent")
    d.flow("Gateway_Consent", "Script_Authorised", "given", "consent_outcome == 'given'")
    d.flow("Gateway_Consent", "Task_ReturnChild", "withdrawn or refused", default=True)
    d.chain("Task_ReturnChild", "End_CareProceedings")
    d.chain("Script_Authorised", "Task_PlaceWithAdopters", "Gateway_Placed")
    d.chain("Gateway_Placed", "Task_FirstVisit", "Gateway_PlacedJoin")
    d.chain("Gateway_Placed", "Task_FirstAdoptionReview", "Gateway_PlacedJoin", "Task_AdoptionOrder", "Gateway_Order")
    d.flow("Gateway_Order", "End_Adopted", "made", "adoption_order_made == True")
    d.flow("Gateway_Order", "End_NoOrder", "not made", default=True)
    return d


FUTURE_PLANS = [("connected_person", "Connected person (SGO or child arrangements order)"),
                ("long_term_fostering", "Long-term fostering"), ("reunification", "Reunification"),
                ("residential", "Residential care")]  # fmt: skip


def placement_order_revocation() -> Diagram:
    d = Diagram(
        "placement_order_revocation",
        "Placement order revocation",
        [
            ("social_worker", "Child permanence social worker"),
            ("cic_social_worker", "Children in care social worker"),
            ("team_manager", "Team manager"),
            ("head_of_service", "Head of service"),
            ("legal", "Legal"),
            ("adm", "Agency decision maker"),
            ("iro", "Independent reviewing officer"),
        ],  # fmt: skip
        doc="A child with a plan of adoption under a placement order, where the decision is made to seek "
        "revocation. Source: pathways.md section 3 (Derby, Hertfordshire) and timescales.md section 4.",
    )
    sw, cic, tm, hos, legal, adm, iro = ("social_worker", "cic_social_worker", "team_manager", "head_of_service",
                                         "legal", "adm", "iro")  # fmt: skip
    d.start("Start_Revocation", "Decision to seek revocation", tm,
            form=[date_field("date_of_birth", "Child's date of birth"),
                  date_field("placement_order_date", "Date of the placement order"),
                  date_field("revocation_decision_date", "Date of the decision to seek revocation")],
            **deadline("hos_referral", "Referred to the head of service (6 months under a placement order)",
                       "add_months(placement_order_date, 6) if revocation_decision_date > "
                       "add_months(placement_order_date, 6) else None",
                       f"{HERTS} section 10: a child still under a placement order after 6 months, where adoption "
                       "is unlikely within 12 months, is referred to the head of service", "LOCAL",
                       "placement_order_date", "Task_HoSReview"))  # fmt: skip
    d.xor("Gateway_Drift", "Over 6 months?", tm)
    d.user("Task_HoSReview", "Review the drift: child under a placement order for over 6 months", hos,
           [date_field("hos_review_date", "Date of the review"), text("hos_direction", "Direction", required=True)],
           **due("add_working_days(revocation_decision_date, 5)", f"{HERTS} section 10; 5 WD is our default", "OURS",
                 "revocation_decision_date"))  # fmt: skip
    d.xor("Gateway_DriftDone", "", tm)
    d.user("Task_CaseManagementMeeting", "Hold the case management meeting on the future care plan", tm,
           [date_field("cmm_date", "Date of the meeting"),
            choice("future_plan", "Future care plan", FUTURE_PLANS),
            yes_no("carer_offers_permanence", "Does the current carer offer permanence")],
           doc="Decides the future care plan and the child's long-term placement needs (Derby). While revocation is "
           "pending the child may not be placed for adoption without the court's leave (ACA 2002 s24(4)).",
           **due("add_working_days(revocation_decision_date, 10)", "Our default: 10 WD after the decision", "OURS",
                 "revocation_decision_date"))  # fmt: skip
    d.user("Task_ADMRatify", "Ratify the change of plan away from adoption", adm,
           [yes_no("plan_change_ratified", "Is the change of plan ratified"),
            date_field("ratification_date", "Date of the decision"), text("ratification_reasons", "Reasons",
                                                                          required=True)],
           doc="Birmingham: the team manager agrees, then the ADM ratifies, rejects or defers with the alternative "
           "plan stated. Good practice, not a legal requirement (revocation aide-memoire).",
           **due("add_working_days(cmm_date, 10)", "Our default: 10 WD after the case management meeting", "OURS",
                 "cmm_date"))  # fmt: skip
    d.xor("Gateway_Ratified", "Ratified?", adm)
    d.end(
        "End_NotRatified",
        "Adoption plan continues",
        adm,
        outcome="change of plan not ratified: adoption plan continues",
    )
    d.user("Task_RevocationApplication", "Apply to revoke the placement order (form A52)", legal,
           [date_field("application_date", "Date the application was issued")],
           doc="With chronology, statement, care plan and review minutes (ACA 2002 s24(1)).",
           **due("add_working_days(ratification_date, 20)", "Recommended: within 20 WD of the ADM ratifying "
                 "(timescales.md V5)", "OURS", "ratification_date"))  # fmt: skip
    d.par("Gateway_AfterApplication", legal)
    d.user("Task_AllocateCiCWorker", "Allocate a children-in-care social worker", tm,
           [date_field("cic_allocated_date", "Date allocated")],
           **due("add_working_days(application_date, 5)", f"{DERBY}: allocate once the application is made; 5 WD is "
                 "our default", "OURS", "application_date"))  # fmt: skip
    d.user("Task_BirthFamilyWork", "Complete the revocation work, including birth family work", sw,
           [date_field("revocation_work_date", "Date the work was completed")],
           **due("add_working_days(application_date, 20)", f"{DERBY}: revocation work by the child permanence team; "
                 "20 WD is our default", "OURS", "application_date"))  # fmt: skip
    d.par("Gateway_AfterApplicationJoin", legal)
    d.user("Task_RecordRevocation", "Record the court's decision on revocation", legal,
           [yes_no("placement_order_revoked", "Did the court revoke the placement order"),
            date_field("revocation_order_date", "Date of the court's decision")],
           **due("add_weeks(application_date, 12)", "Our default: expect the hearing within 12 weeks", "OURS",
                 "application_date"))  # fmt: skip
    d.xor("Gateway_Revoked", "Revoked?", legal)
    d.end("End_NotRevoked", "Placement order stands", legal, outcome="placement order not revoked")
    d.par("Gateway_AfterRevocation", iro)
    d.user("Task_ReviewAfterRevocation", "Hold a CLA review to reset the care plan", iro,
           [date_field("post_revocation_review_date", "Date of the review")],
           doc="The care order revives (ACA 2002 s29(1)); a significant change to the care plan needs a review.",
           **due("add_working_days(revocation_order_date, 20)", f"{CPPCR} reg 32(2) (duty); 20 WD is the recommended "
                 "timer (timescales.md V7)", "OURS", "revocation_order_date"))  # fmt: skip
    d.xor("Gateway_CarerOffers", "Carer offers permanence?", sw)
    d.user("Task_CarerAssessment", "Assess the current carer for permanence", sw,
           [date_field("carer_assessment_date", "Date the assessment was completed")],
           **due("add_weeks(revocation_order_date, 8)", f"{DERBY}: the assessment reaches panel no later than 3 months "
                 "after revocation; 8 weeks leaves time to book it", "OURS", "revocation_order_date"))  # fmt: skip
    d.script(
        "Script_CarerToPanel",
        "Book the carer's assessment",
        sw,
        "panel_ready_date = carer_assessment_date",
        **deadline(
            "carer_panel",
            "Carer's assessment at panel (3 months after revocation)",
            "add_months(revocation_order_date, 3)",
            f"{DERBY}: no later than 3 months after revocation (sooner if uncontested)",
            "LOCAL",
            "revocation_order_date",
            "Task_PanelDecision",
        ),
    )
    d.user("Task_FindPlacement", "Find an alternative long-term placement", cic,
           [date_field("new_placement_start_date", "Date the new placement started")],
           **due("add_months(revocation_order_date, 3)", "Our default: 3 months after revocation", "OURS",
                 "revocation_order_date"))  # fmt: skip
    d.script("Script_NewPlacementClock", "Start the 9-month clock", cic, "placement_clock = new_placement_start_date",
             **deadline("placement_panel", "Permanence plan at panel (9 months after the placement starts)",
                        "add_months(new_placement_start_date, 9)", f"{DERBY}: within 9 months of the placement "
                        "starting", "LOCAL", "new_placement_start_date", "Task_PanelDecision"))  # fmt: skip
    d.user("Task_PreparePanelPlan", "Prepare the permanence plan for panel", cic,
           [date_field("panel_plan_ready_date", "Date the plan was ready")],
           **due("add_months(new_placement_start_date, 8)", f"{DERBY}: panel within 9 months; ready a month before",
                 "OURS", "new_placement_start_date"))  # fmt: skip
    d.script("Script_PlanToPanel", "Book the plan", cic, "panel_ready_date = panel_plan_ready_date")
    d.xor("Gateway_ToPanel", "", sw)
    d.call("Call_Panel", "Permanency panel", sw, "permanency_panel")
    d.par("Gateway_AfterRevocationJoin", iro)
    d.xor("Gateway_PanelOutcome", "Approved?", sw)
    d.end(
        "End_PlanApproved",
        "Permanence plan approved",
        sw,
        outcome="placement order revoked: plan approved at panel",
        outcome_detail="future_plan",
    )
    d.end("End_PlanNotApproved", "Plan not approved", sw, outcome="placement order revoked: plan not approved at panel")

    d.chain("Start_Revocation", "Gateway_Drift")
    d.flow(
        "Gateway_Drift",
        "Task_HoSReview",
        "over 6 months",
        "revocation_decision_date > add_months(placement_order_date, 6)",
    )
    d.flow("Gateway_Drift", "Gateway_DriftDone", "no", default=True)
    d.chain("Task_HoSReview", "Gateway_DriftDone", "Task_CaseManagementMeeting", "Task_ADMRatify", "Gateway_Ratified")
    d.flow("Gateway_Ratified", "Task_RevocationApplication", "ratified", "plan_change_ratified == True")
    d.flow("Gateway_Ratified", "End_NotRatified", "not ratified", default=True)
    d.chain("Task_RevocationApplication", "Gateway_AfterApplication")
    d.chain("Gateway_AfterApplication", "Task_AllocateCiCWorker", "Gateway_AfterApplicationJoin")
    d.chain("Gateway_AfterApplication", "Task_BirthFamilyWork", "Gateway_AfterApplicationJoin",
            "Task_RecordRevocation", "Gateway_Revoked")  # fmt: skip
    d.flow("Gateway_Revoked", "Gateway_AfterRevocation", "revoked", "placement_order_revoked == True")
    d.flow("Gateway_Revoked", "End_NotRevoked", "not revoked", default=True)
    d.chain("Gateway_AfterRevocation", "Task_ReviewAfterRevocation", "Gateway_AfterRevocationJoin")
    d.chain("Gateway_AfterRevocation", "Gateway_CarerOffers")
    d.flow("Gateway_CarerOffers", "Task_CarerAssessment", "yes", "carer_offers_permanence == True")
    d.flow("Gateway_CarerOffers", "Task_FindPlacement", "no", default=True)
    d.chain("Task_CarerAssessment", "Script_CarerToPanel", "Gateway_ToPanel")
    d.chain("Task_FindPlacement", "Script_NewPlacementClock", "Task_PreparePanelPlan", "Script_PlanToPanel",
            "Gateway_ToPanel")  # fmt: skip
    d.chain("Gateway_ToPanel", "Call_Panel", "Gateway_AfterRevocationJoin", "Gateway_PanelOutcome")
    d.flow("Gateway_PanelOutcome", "End_PlanApproved", "approved", "panel_decision == 'approve'")
    d.flow("Gateway_PanelOutcome", "End_PlanNotApproved", "not approved", default=True)
    return d


DRAFTS = {
    "ppm_to_adm": ppm_to_adm,
    "permanency_panel": permanency_panel,
    "sgo_assessment": sgo_assessment,
    "relinquished_baby": relinquished_baby,
    "placement_order_revocation": placement_order_revocation,
}


def main(keys: list[str]) -> None:
    for key in keys or sorted(DRAFTS):
        path = WORKFLOWS / f"{key}.bpmn"
        path.write_bytes(DRAFTS[key]().to_xml())
        print(f"wrote {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
