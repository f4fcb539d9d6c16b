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
                       "add_weeks(looked_after_date, 10) if looked_after_date else add_weeks(proceedings_start_date, 14)",
                       f"{HERTS} section 4: no more than 10 weeks after becoming looked after, or 14 weeks after "
                       "proceedings start for a child who is not looked after", "LOCAL",
                       "looked_after_date (else proceedings_start_date)", "Task_HoldPPM,Task_AgreeNoPPM"))  # fmt: skip
    d.script("Script_Anchors", "Work out the case clocks", sw,
             "clock_start = looked_after_date if looked_after_date else proceedings_start_date\n"
             "ppm_due = add_weeks(looked_after_date, 10) if looked_after_date else add_weeks(proceedings_start_date, 14)\n"
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


DRAFTS = {"ppm_to_adm": ppm_to_adm}


def main(keys: list[str]) -> None:
    for key in keys or sorted(DRAFTS):
        path = WORKFLOWS / f"{key}.bpmn"
        path.write_bytes(DRAFTS[key]().to_xml())
        print(f"wrote {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
