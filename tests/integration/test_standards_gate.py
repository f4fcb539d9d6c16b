"""Issue 21's one standards gate: the BPMN 2.0 XSD, bpmnlint's recommended rules, Camunda 7 compatibility and
the platform declarations, at upload, submit, publish and in `pathways workflows validate`; the shipped
diagrams pass it with 0 errors (and the bpmnlint CLI says so too)."""

from __future__ import annotations

import filecmp
import subprocess
from pathlib import Path

import pytest
from lxml import etree

from engine import services
from engine.bpmn import standards
from engine.bpmn.xml import parse_bpmn
from engine.errors import DefinitionInvalid
from engine.services import accounts, modelling
from tests.scenario import publish_workflows

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / "workflows"
SGO = (WORKFLOWS / "sgo_assessment.bpmn").read_text()
LIBRARY = {"permanency_panel": ("permanency_panel.bpmn", (WORKFLOWS / "permanency_panel.bpmn").read_bytes())}


def _found(rt, text: str):
    return services.validate_diagram(rt, "sgo_assessment.bpmn", text.encode(), LIBRARY, use_published=False)


def _errors(rt, text: str) -> list[str]:
    return [str(p) for p in _found(rt, text) if p.blocks]


def _replace(old: str, new: str, text: str = SGO) -> str:
    assert old in text, old
    return text.replace(old, new)


def test_the_bpmnlint_cli_finds_no_error_in_the_shipped_diagrams():
    shipped = sorted(str(p) for p in WORKFLOWS.glob("*.bpmn"))
    run = subprocess.run([str(ROOT / "node_modules" / ".bin" / "bpmnlint"), *shipped], cwd=ROOT,
                         capture_output=True, text=True, check=False)  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "(0 errors" in run.stdout or run.stdout.strip() == "", run.stdout


@pytest.mark.parametrize("name", sorted(p.name for p in WORKFLOWS.glob("*.bpmn")))
def test_the_shipped_diagrams_meet_the_schema_camunda_7_and_declare_their_platform(name):
    root = parse_bpmn((WORKFLOWS / name).read_bytes(), name)
    assert standards.problems(root) == []
    assert root.get("expressionLanguage") == standards.EXPRESSION_LANGUAGE
    assert root.get(f"{{{standards.MODELER_NS}}}executionPlatform") == "Camunda Platform"


def test_a_stray_attribute_breaks_the_schema_and_the_cli_says_so(rt, cli, tmp_path):
    stray = _replace('<bpmn:process id="sgo_assessment"', '<bpmn:process colour="red" id="sgo_assessment"')
    errors = _errors(rt, stray)
    assert any(e.startswith("sgo_assessment: does not follow the BPMN 2.0 schema") and "colour" in e for e in errors)
    path = tmp_path / "sgo_assessment.bpmn"
    path.write_text(stray)
    (tmp_path / "permanency_panel.bpmn").write_bytes(LIBRARY["permanency_panel"][1])
    output = cli("workflows", "validate", str(path), ok=False).output
    assert "does not follow the BPMN 2.0 schema" in output and "\nvalid" not in output


def _join_and_fork(text: str = SGO) -> str:
    """The SGO diagram as it was before issue 21: "SGO made?" both joins two flows and forks."""
    root = parse_bpmn(text)
    join, decide = root.find(".//*[@id='Gateway_SGOMadeJoin']"), root.find(".//*[@id='Gateway_SGOMade']")
    for flow in root.iterfind(".//{*}sequenceFlow[@targetRef='Gateway_SGOMadeJoin']"):
        flow.set("targetRef", "Gateway_SGOMade")
    for gone in ("Gateway_SGOMadeJoin", "Flow_Gateway_SGOMadeJoin"):
        for node in root.xpath(f"//*[@id='{gone}' or @bpmnElement='{gone}' or text()='{gone}']"):
            node.getparent().remove(node)
    for incoming in join.iterfind("{*}incoming"):
        decide.insert(0, incoming)
    return etree.tostring(root, encoding="unicode")


def test_a_gateway_that_joins_and_forks_is_refused_against_that_gateway(rt):
    joined = _join_and_fork()
    assert _errors(rt, SGO) == []
    assert _errors(rt, joined) == ["Gateway_SGOMade: Gateway forks and joins (bpmnlint no-gateway-join-fork)"]
    with pytest.raises(DefinitionInvalid, match="no-gateway-join-fork"):
        services.publish_files(rt, [("sgo_assessment.bpmn", joined.encode()), LIBRARY["permanency_panel"]], "t")


def test_camunda_7_extensions_are_checked_name_and_place():
    script_with_role = _replace(
        '<bpmn:scriptTask id="Script_ApprovalClock"',
        '<bpmn:scriptTask camunda:candidateGroups="sgo_assessor" id="Script_ApprovalClock"',
    )
    misspelt = _replace("<camunda:formData>", "<camunda:formDate>", SGO).replace("</camunda:formData>",
                                                                                 "</camunda:formDate>")  # fmt: skip
    bad_attribute = _replace(
        '<camunda:formField id="expression_of_interest_date" label=',
        '<camunda:formField id="expression_of_interest_date" lable=',
    )
    said = {text: [m for _, m in standards.camunda_problems(parse_bpmn(text))]
            for text in (script_with_role, misspelt, bad_attribute)}  # fmt: skip
    assert "camunda:candidateGroups is not a Camunda 7 attribute of a ScriptTask" in said[script_with_role]
    assert "camunda:formDate is not a Camunda 7 extension element" in said[misspelt]
    assert "'lable' is not a Camunda 7 attribute of camunda:formField" in said[bad_attribute]
    script = '<bpmn:scriptTask id="Script_ApprovalClock" name="Set the approval expiry" scriptFormat="python">'
    form_on_script = _replace(script, script + "<bpmn:extensionElements><camunda:formData/></bpmn:extensionElements>")
    assert ("Script_ApprovalClock", "Camunda 7 does not allow camunda:formData on a ScriptTask") in (
        standards.camunda_problems(parse_bpmn(form_on_script))
    )


def test_the_expression_language_platform_and_history_are_declared(rt):
    errors = _errors(rt, _replace(f' expressionLanguage="{standards.EXPRESSION_LANGUAGE}"', ""))
    assert any("expression language as Python" in e and "XPath" in e for e in errors)
    errors = _errors(rt, _replace(' modeler:executionPlatform="Camunda Platform"', ""))
    assert any("execution platform" in e for e in errors)
    errors = _errors(rt, _replace(' camunda:historyTimeToLive="36500"', ""))
    assert any(e.startswith("sgo_assessment: the executable process has no camunda:historyTimeToLive") for e in errors)


def test_bpmnlint_warnings_are_advice_shown_but_never_blocking(rt):
    found = _found(rt, SGO)
    assert found and all(p.severity == "warning" for p in found)
    assert {p.to_dict()["severity"] for p in found} == {"warning"}
    published = services.publish_files(rt, [("sgo_assessment.bpmn", SGO.encode()), LIBRARY["permanency_panel"]], "t")
    assert {p.key for p in published} == {"sgo_assessment", "permanency_panel"}


def test_a_draft_failing_the_gate_cannot_be_uploaded_into_publishing(rt):
    publish_workflows(rt)
    accounts.ensure_demo_users(rt)
    erin = accounts.person(rt, "po.erin")
    joined = _join_and_fork()
    draft = modelling.upload_draft(rt, erin, "sgo_assessment.bpmn", joined.encode())  # a draft may be unfinished
    with pytest.raises(DefinitionInvalid, match="no-gateway-join-fork"):
        modelling.submit_draft(rt, erin, draft["id"], "split the gateway later")


def test_the_moddle_descriptors_are_the_locked_npm_packages():
    """engine/bpmn/moddle is copied from npm: it must be what the modeller in the browser uses."""
    pairs = {"camunda.json": "camunda-bpmn-moddle/resources/camunda.json",
             "bpmn.json": "bpmn-moddle/resources/bpmn/json/bpmn.json"}  # fmt: skip
    for ours, theirs in pairs.items():
        assert filecmp.cmp(ROOT / "engine" / "bpmn" / "moddle" / ours, ROOT / "node_modules" / theirs, shallow=False)
