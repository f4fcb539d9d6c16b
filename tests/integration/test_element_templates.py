"""Issue 21's element templates: the project's kinds of step in workflows/templates (Camunda 7 schema), and
the due rules they write in plain words (an amount, a unit and the date it counts from) worked out by the
engine as the expressions they stand for."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from engine import clock, services
from engine.bpmn import definition
from engine.bpmn.validation import DIAGRAM_ROLES
from engine.domain.states import RuleStatus
from engine.services import modelling
from tests.webclient import Staff

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / "workflows"
TEMPLATES = json.loads((WORKFLOWS / "templates" / "pathways.json").read_text())
SGO = (WORKFLOWS / "sgo_assessment.bpmn").read_text()
PANEL = ("permanency_panel.bpmn", (WORKFLOWS / "permanency_panel.bpmn").read_bytes())
VISIT_DUE = '<camunda:property name="due" value="add_weeks(expression_of_interest_date, 2)"/>'


def _template(name: str) -> dict:
    return next(t for t in TEMPLATES if t["name"] == name)


def _choices(template: dict, binding: str) -> set[str]:
    found = next(p for p in template["properties"] if p["binding"]["name"] == binding)
    return {c["value"] for c in found["choices"]}


def _in_words(amount: str, unit: str, start: str, prefix: str = "due") -> str:
    return "".join(f'<camunda:property name="{prefix}_{part}" value="{value}"/>'
                   for part, value in (("amount", amount), ("unit", unit), ("from", start)))  # fmt: skip


def test_the_templates_meet_the_camunda_7_template_schema_and_camunda_modeler_finds_them():
    script = ("const v = require('@bpmn-io/element-templates-validator');"
              "const r = v.validateAll(require(process.argv[1]));"
              "const errors = (r.errors || []).map(e => e.message);"
              "console.log(JSON.stringify({valid: r.valid, errors}));")  # fmt: skip
    run = subprocess.run(["node", "-e", script, str(WORKFLOWS / "templates" / "pathways.json")], cwd=ROOT,
                         capture_output=True, text=True, check=True)  # fmt: skip
    assert json.loads(run.stdout) == {"valid": True, "errors": []}
    assert {t["name"] for t in TEMPLATES} == {"Statutory step", "Deadline", "Gate (earliest date)", "Case-system event"}
    # Camunda Modeler reads templates from .camunda/element-templates beside (or above) the diagram
    assert (WORKFLOWS / ".camunda" / "element-templates" / "pathways.json").read_text() == json.dumps(
        TEMPLATES, indent=2, ensure_ascii=False
    ) + "\n"


def test_the_templates_offer_exactly_the_roles_statuses_and_units_the_engine_knows():
    step = _template("Statutory step")
    assert _choices(step, "camunda:candidateGroups") == DIAGRAM_ROLES
    assert _choices(step, "due_status") == {s.value for s in RuleStatus}
    assert _choices(step, "due_unit") == set(definition.UNITS)
    assert _choices(_template("Deadline"), "deadline.due_unit") == set(definition.UNITS)
    assert _choices(_template("Gate (earliest date)"), "not_before_unit") == set(definition.UNITS)


def test_a_due_date_in_words_is_worked_out_like_its_expression(rt):
    in_words = SGO.replace(VISIT_DUE, _in_words("3", "weeks", "expression_of_interest_date"))
    found = services.validate_diagram(rt, "sgo_assessment.bpmn", in_words.encode(), {"permanency_panel": PANEL},
                                      use_published=False)  # fmt: skip
    assert [p for p in found if p.blocks] == []
    dates = modelling.preview_dates(rt, in_words.encode(), {"expression_of_interest_date": date(2027, 1, 4)},
                                    date(2027, 1, 4))["dates"]  # fmt: skip
    visit = next(d for d in dates if d["element"] == "Task_VisitCarers" and d["kind"] == "step")
    assert (visit["expression"], visit["due"]) == ("add_weeks(expression_of_interest_date, 3)", "2027-01-25")

    services.publish_files(rt, [("sgo_assessment.bpmn", in_words.encode()), PANEL], "po")
    with clock.frozen(datetime(2027, 1, 20, 10, tzinfo=UTC)):
        case = services.start_case(rt, "sgo_assessment", "CH-T21", {
            "expression_of_interest_date": "2027-01-04", "assessment_request_date": "2027-01-20",
            "carer_type": "foster_carer"}, "sw")  # fmt: skip
    step = next(t for t in case["open_tasks"] if t["element"] == "Task_VisitCarers")
    assert step["due"] == "2027-01-25"


def test_a_deadline_written_by_the_template_is_keyed_by_its_element(rt):
    info = definition.describe(definition_root(SGO.replace(
        '<bpmn:scriptTask id="Script_Extend" name="Extend the approval once" scriptFormat="python">',
        '<bpmn:scriptTask id="Script_Extend" name="Extend the approval once" scriptFormat="python">'
        '<bpmn:extensionElements><camunda:properties>'
        '<camunda:property name="deadline.name" value="Approval reviewed"/>'
        + _in_words("-5", "working_days", "approval_expiry", "deadline.due") +
        '<camunda:property name="deadline.source" value="Local procedure 3.2"/>'
        '<camunda:property name="deadline.met_by" value="Task_ReviewTemporaryApproval"/>'
        '</camunda:properties></bpmn:extensionElements>')))  # fmt: skip
    [spec] = info.elements["Script_Extend"].deadlines()
    assert (spec.key, spec.name, spec.due, spec.source, spec.met_by) == (
        "Script_Extend", "Approval reviewed", "add_working_days(approval_expiry, -5)", "Local procedure 3.2",
        ["Task_ReviewTemporaryApproval"])  # fmt: skip


def definition_root(text: str):
    from engine.bpmn.xml import parse_bpmn

    return parse_bpmn(text.encode())


@pytest.mark.parametrize(
    ("words", "said"),
    [
        (_in_words("3", "", "expression_of_interest_date"), "the due date needs its unit"),
        (_in_words("three", "weeks", "expression_of_interest_date"), "the due date: 'three' is not a whole number"),
        (_in_words("3", "fortnights", "expression_of_interest_date"), "the due date: 'fortnights' is not a unit"),
        (
            VISIT_DUE + _in_words("3", "weeks", "expression_of_interest_date"),
            "the due date is given both in words and as an expression: keep one",
        ),
    ],
)
def test_a_due_rule_in_words_must_be_whole_and_not_said_twice(rt, words, said):
    text = SGO.replace(VISIT_DUE, words)
    found = services.validate_diagram(rt, "sgo_assessment.bpmn", text.encode(), {"permanency_panel": PANEL},
                                      use_published=False)  # fmt: skip
    assert any(p.element == "Task_VisitCarers" and p.message.startswith(said) for p in found), found


def test_the_modeller_offers_the_templates_to_process_owners_only(app):
    assert Staff(app, "po.erin").get("/modeller/templates.json").get_json() == TEMPLATES
    Staff(app, "sw.alice").get("/modeller/templates.json", status=403)
