"""Every production diagram opens in a modeller (full DI, no overlaps) and follows our conventions."""

from __future__ import annotations

import re
from itertools import combinations
from pathlib import Path

import pytest

from engine.bpmn.definition import describe
from engine.bpmn.runtime import Engine
from engine.bpmn.xml import NS, parse_bpmn
from engine.domain.states import RuleStatus

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
FILES = sorted(WORKFLOWS.glob("*.bpmn"))
PATHWAYS = {"relinquished_baby", "ppm_to_adm", "placement_order_revocation", "sgo_assessment"}
DC = "{http://www.omg.org/spec/DD/20100524/DC}"


def _bounds(root) -> dict[str, tuple[float, float, float, float]]:
    found = {}
    for shape in root.iterfind(".//bpmndi:BPMNShape", NS):
        b = shape.find(f"{DC}Bounds")
        found[shape.get("bpmnElement")] = tuple(float(b.get(k)) for k in ("x", "y", "width", "height"))
    return found


def _overlap(a, b) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


@pytest.fixture(params=FILES, ids=[f.stem for f in FILES])
def diagram(request):
    root = parse_bpmn(request.param.read_bytes(), request.param.name)
    return request.param, root, describe(root)


def test_the_pathways_we_promise_are_there():
    keys = {describe(parse_bpmn(f.read_bytes(), f.name)).key for f in FILES}
    assert PATHWAYS <= keys
    assert keys - PATHWAYS <= {"permanency_panel", "cla_review_cycle"}


def test_every_flow_node_and_edge_has_diagram_interchange(diagram):
    _, root, info = diagram
    bounds = _bounds(root)
    assert set(info.elements) <= set(bounds), set(info.elements) - set(bounds)
    edges = {e.get("bpmnElement"): e for e in root.iterfind(".//bpmndi:BPMNEdge", NS)}
    for flow in root.iterfind(".//bpmn:sequenceFlow", NS):
        assert flow.get("id") in edges, flow.get("id")
        assert len(edges[flow.get("id")].findall("{http://www.omg.org/spec/DD/20100524/DI}waypoint")) >= 2
    for lane in root.iterfind(".//bpmn:lane", NS):
        assert lane.get("id") in bounds


def test_no_two_shapes_overlap(diagram):
    _, root, info = diagram
    bounds = _bounds(root)
    boundary = {e.id: e for e in info.elements.values() if e.kind == "boundaryEvent"}
    attached = {n.get("id"): n.get("attachedToRef") for n in root.iterfind(".//bpmn:boundaryEvent", NS)}
    shapes = [i for i in info.elements if i in bounds]
    clashes = [
        (a, b) for a, b in combinations(shapes, 2)
        if _overlap(bounds[a], bounds[b]) and attached.get(a) != b and attached.get(b) != a
        and not (a in boundary and b in boundary and attached.get(a) == attached.get(b))
    ]  # fmt: skip
    assert clashes == []


def test_every_user_task_has_a_lane_role_form_due_date_and_purpose(diagram):
    _, _, info = diagram
    for task in (e for e in info.elements.values() if e.kind == "userTask"):
        assert task.lane, f"{task.id} has no lane"
        assert task.role, f"{task.id} has no role"
        assert task.form, f"{task.id} has no form"
        assert task.properties.get("due"), f"{task.id} has no due date"
        assert task.name and task.name != task.id, f"{task.id} has no title"
        assert len(task.documentation) > 40, f"{task.id} has no documentation (shown as 'what this step is for')"


def test_every_deadline_cites_its_source_and_status(diagram):
    _, _, info = diagram
    labels = {s.value for s in RuleStatus}
    for element in info.elements.values():
        for spec in element.deadlines():
            assert spec.source.strip(), f"{element.id}: deadline {spec.key} has no source"
            assert spec.status in labels, f"{element.id}: deadline {spec.key} status {spec.status}"


def test_staff_never_read_the_project_s_internal_references(diagram):
    """Names, purposes, citations and documentation are shown to staff: no notes such as "(timescales.md R1)"."""
    path, root, _ = diagram
    texts = [el.text or "" for el in root.iter() if el.tag.endswith("documentation")]
    texts += [el.get(attr) or "" for el in root.iter() for attr in ("name", "value", "label")]
    leaks = sorted({t for t in texts if re.search(r"\b\w+\.md\b|\bunverified\b", t)})
    assert leaks == [], f"{path.name}: {leaks}"


def test_each_pathway_records_an_outcome_and_builds_in_spiffworkflow(diagram):
    path, _, info = diagram
    if info.key in PATHWAYS:
        assert any(e.properties.get("outcome") for e in info.elements.values() if e.kind == "endEvent")
    files = [(f.name, f.read_bytes()) for f in FILES]
    Engine().build_spec(info.key, files)
