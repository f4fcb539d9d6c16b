"""The process owners' validator: good, broken and hostile diagrams, in the service and the CLI."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from engine import services
from engine.bpmn import validation
from tests.unit.test_xml import HOSTILE

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
SGO = (WORKFLOWS / "sgo_assessment.bpmn").read_text()
PANEL = ("permanency_panel.bpmn", (WORKFLOWS / "permanency_panel.bpmn").read_bytes())
LIBRARY = {"permanency_panel": PANEL}


def _problems(rt, text: str, library=LIBRARY) -> list[validation.Problem]:
    """What blocks publishing (bpmnlint's warnings, advice, are left out: test_standards_gate has them)."""
    found = services.validate_diagram(rt, "sgo_assessment.bpmn", text.encode(), library, use_published=False)
    return [p for p in found if p.blocks]


def _replace(old: str, new: str, text: str = SGO, count: int = 1) -> str:
    assert old in text, old
    return text.replace(old, new, count)


@pytest.mark.parametrize("name", sorted(p.name for p in WORKFLOWS.glob("*.bpmn")))
def test_every_pathway_in_the_repository_is_valid(rt, name):
    """Every check passes, the standards gate's included; bpmnlint's warnings (advice, e.g. a step two flows
    lead into) are the only thing it may say."""
    others = services.library_from_files([(p.name, p.read_bytes()) for p in WORKFLOWS.glob("*.bpmn")])
    found = services.validate_diagram(rt, name, (WORKFLOWS / name).read_bytes(), others, use_published=False)
    assert [p for p in found if p.blocks] == []
    assert all(p.severity == "warning" and "(bpmnlint " in p.message for p in found)


BROKEN = {
    "role nobody holds": (
        'camunda:candidateGroups="sgo_assessor">\n      <bpmn:documentation>Visit the carers',
        'camunda:candidateGroups="sgo_visitor">\n      <bpmn:documentation>Visit the carers',
        "Task_VisitCarers", "role 'sgo_visitor' is not a role anyone holds",
    ),
    "no due date": (
        '<camunda:property name="due" value="add_weeks(expression_of_interest_date, 2)"/>', "",
        "Task_VisitCarers", "no due date",
    ),
    "no source": (
        '<camunda:property name="due_source" value="Derby permanency policy: visit within 2 weeks of the '
        'expression of interest"/>', "",
        "Task_VisitCarers", "cites no source",
    ),
    "misspelt date in a due date": (
        'value="add_weeks(expression_of_interest_date, 2)"', 'value="add_weeks(expression_of_intrest_date, 2)"',
        "Task_VisitCarers", "name 'expression_of_intrest_date' is not defined",
    ),
    "timer that does not work out": (
        '<bpmn:timeDate xsi:type="bpmn:tFormalExpression">twelve_week_date</bpmn:timeDate>',
        '<bpmn:timeDate xsi:type="bpmn:tFormalExpression">add_weeks(twelve_week_date, "two")</bpmn:timeDate>',
        "Timer_AssessmentOverdue", "timer 'add_weeks(twelve_week_date, \"two\")' does not work out",
    ),
    "unsafe expression": (
        'value="add_weeks(expression_of_interest_date, 2)"', "value=\"open('/etc/passwd')\"",
        "Task_VisitCarers", "open",
    ),
    "dead end": ("Flow_VisitCarers_GProceed", None, "Task_VisitCarers", "dead end"),
    "unreachable": ("Flow_GTracks_VisitCarers", None, "Task_VisitCarers", "cannot be reached"),
}  # fmt: skip


def _cut_flow(flow_id: str) -> str:
    """The diagram without one sequence flow (as if deleted in a modeller: its references and drawing go too)."""
    text = re.sub(rf'<bpmn:sequenceFlow id="{flow_id}".*?(/>|</bpmn:sequenceFlow>)', "", SGO, count=1, flags=re.S)
    text = re.sub(rf"<bpmn:(incoming|outgoing)>{flow_id}</bpmn:\1>", "", text)
    return re.sub(rf'<bpmndi:BPMNEdge id="{flow_id}_di".*?</bpmndi:BPMNEdge>', "", text, flags=re.S)


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_each_broken_rule_is_reported_against_its_element(rt, case):
    old, new, element, words = BROKEN[case]
    text = _cut_flow(old) if new is None else _replace(old, new)
    found = _problems(rt, text)
    assert any(p.element == element and words in p.message for p in found), [str(p) for p in found]


def test_a_missing_form_and_a_missing_lane_are_reported(rt):
    no_form = re.sub(r"(<bpmn:userTask id=\"Task_VisitCarers\".*?)<camunda:formData>.*?</camunda:formData>", r"\1",
                     SGO, count=1, flags=re.S)  # fmt: skip
    no_role = _replace(
        'camunda:candidateGroups="sgo_assessor">\n      <bpmn:documentation>Visit',
        ">\n      <bpmn:documentation>Visit",
        no_form,
    )
    no_role = no_role.replace("<bpmn:flowNodeRef>Task_VisitCarers</bpmn:flowNodeRef>", "")
    found = {(p.element, p.message.split(" (")[0]) for p in _problems(rt, no_role)}
    assert ("Task_VisitCarers", "the step has no form") in found
    assert ("Task_VisitCarers", "the step is in no lane and has no candidate group, so nobody would get it") in found


def test_a_diagram_without_layout_or_with_an_undrawn_element_is_reported(rt):
    no_di = re.sub(r"<bpmndi:BPMNDiagram.*</bpmndi:BPMNDiagram>", "", SGO, flags=re.S)
    assert [str(p) for p in _problems(rt, no_di)] == [
        "the file has no diagram layout (BPMN DI): open and save it in a modeller"
    ]
    undrawn = re.sub(r'<bpmndi:BPMNShape id="[^"]*" bpmnElement="End_Withdrawn".*?</bpmndi:BPMNShape>', "", SGO,
                     flags=re.S)  # fmt: skip
    assert [str(p) for p in _problems(rt, undrawn)] == ["End_Withdrawn: is not drawn on the diagram (no layout for it)"]


def test_a_call_to_an_unknown_process_and_a_spiffworkflow_parse_error_are_reported(rt):
    assert [str(p) for p in _problems(rt, SGO, library={})] == [
        "calls process 'permanency_panel', which no published diagram defines"
    ]
    bad_gateway = _replace('default="Flow_GProceed_End_NotProceeding"', 'default="Flow_Nowhere"')
    assert any("SpiffWorkflow cannot parse it" in p.message for p in _problems(rt, bad_gateway))


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_files_get_one_clear_problem(rt, name):
    [problem] = services.validate_diagram(rt, "upload.bpmn", HOSTILE[name].encode(), use_published=False)
    assert problem.element is None and problem.message.startswith("upload.bpmn: ")


def test_cli_validate_prints_one_problem_per_line_and_exits_1(cli, tmp_path):
    good = tmp_path / "sgo_assessment.bpmn"
    good.write_text(SGO)
    (tmp_path / "permanency_panel.bpmn").write_bytes(PANEL[1])
    *advice, verdict = cli("workflows", "validate", str(good)).output.splitlines()
    assert verdict == "valid" and all(line.startswith("warning: ") for line in advice)
    broken = tmp_path / "broken" / "sgo_assessment.bpmn"
    broken.parent.mkdir()
    broken.write_text(_replace('value="add_weeks(expression_of_interest_date, 2)"', 'value="add_weeks(nope, 2)"',
                               _replace('camunda:candidateGroups="sgo_assessor">\n      <bpmn:documentation>Visit',
                                        'camunda:candidateGroups="x">\n      <bpmn:documentation>Visit')))  # fmt: skip
    lines = [line for line in cli("workflows", "validate", str(broken), ok=False).output.splitlines()
             if not line.startswith("warning: ")]  # fmt: skip
    assert len(lines) == 2 and all(line.startswith("Task_VisitCarers: ") for line in lines), lines
    hostile = tmp_path / "evil.bpmn"
    hostile.write_text(HOSTILE["xxe"])
    assert cli("workflows", "validate", str(hostile), ok=False).output.startswith("evil.bpmn: DOCTYPE")


def test_cli_load_refuses_an_invalid_file_and_publishes_nothing(cli, rt, tmp_path):
    (tmp_path / "sgo_assessment.bpmn").write_text(_replace(
        '<camunda:property name="due" value="add_weeks(expression_of_interest_date, 2)"/>', ""))  # fmt: skip
    (tmp_path / "permanency_panel.bpmn").write_bytes(PANEL[1])
    result = cli("workflows", "load", str(tmp_path), ok=False)
    assert "Task_VisitCarers: the step has no due date" in result.stderr
    assert services.list_definitions(rt) == []


def test_the_timer_preview_works_out_dates_across_bank_holidays(rt):
    ppm = (WORKFLOWS / "ppm_to_adm.bpmn").read_bytes()
    shown = services.preview_dates(rt, ppm, {"looked_after_date": date(2026, 12, 18)}, date(2026, 12, 1))
    assert "looked_after_date" in shown["anchors"] and shown["error"] is None
    by_element = {(r["element"], r["kind"]): r for r in shown["dates"]}
    review = by_element[("Task_FirstReview", "step")]
    assert review["due"] == "2027-01-20"  # 20 working days over Christmas and New Year
    assert review["source"] and review["status"] == "STAT"
    assert by_element[("Timer_PPMOverdue", "timer")]["error"] is None
    # every later step counts from the step before, taken as done on its due day
    assert by_element[("Task_UpdateCarePlan", "step")]["due"] == "2027-02-17"  # 28 days after the review
    edited = ppm.replace(b"add_working_days(looked_after_date, 20)", b"add_working_days(looked_after_date, 25)")
    again = services.preview_dates(rt, edited, {"looked_after_date": date(2026, 12, 18)}, date(2026, 12, 1))
    assert {(r["element"], r["kind"]): r for r in again["dates"]}[("Task_FirstReview", "step")]["due"] == "2027-01-27"
    assert services.preview_dates(rt, b"<nope", {}, date(2026, 12, 1))["error"].startswith("diagram: not well-formed")


def test_a_budget_overrun_while_checking_the_sample_case_is_tried_again(rt, monkeypatch):
    """A collection or a busy core can overrun an expression's CPU budget once: a sound diagram is
    still valid (a full run of the suite met this); an expression that overruns every time is reported."""
    from engine.bpmn.scripting import RestrictedEnvironment
    from engine.errors import ExpressionTimeout

    real = RestrictedEnvironment.evaluate
    calls = {"n": 0}

    def every_other_slow(self, expression, context, external_context=None):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] % 2:
            raise ExpressionTimeout("the expression used more than 1 s of CPU time")
        return real(self, expression, context, external_context)

    monkeypatch.setattr(RestrictedEnvironment, "evaluate", every_other_slow)
    assert _problems(rt, SGO) == []
    assert calls["n"] > 10

    def always_slow(self, expression, context, external_context=None):  # type: ignore[no-untyped-def]
        raise ExpressionTimeout("the expression used more than 1 s of CPU time")

    monkeypatch.setattr(RestrictedEnvironment, "evaluate", always_slow)
    assert any("does not work out on a sample case: ExpressionTimeout" in p.message for p in _problems(rt, SGO))
