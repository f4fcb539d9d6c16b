"""Draft pathway diagrams from a short Python description, with full diagram interchange (DI).

Used to draft the files in workflows/; after that the .bpmn files are the source of truth and
process owners edit them in Camunda Modeler or the app's modeller. Re-running a draft script
overwrites edits made since, so only do that on purpose.

Layout: one lane per role; columns by longest path from the start (loops ignored); several
nodes of one lane in one column stack in rows; edges are orthogonal.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
DI = "http://www.omg.org/spec/DD/20100524/DI"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
NSMAP = {"bpmn": BPMN, "bpmndi": BPMNDI, "dc": DC, "di": DI, "camunda": CAMUNDA, "xsi": XSI}
SIZES = {"task": (110, 80), "event": (36, 36), "gateway": (50, 50)}
COL_W, ROW_H, LANE_PAD, POOL_X, POOL_Y, LABEL_W = 160, 120, 20, 160, 80, 30


def q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


@dataclass
class Field:
    id: str
    label: str
    type: str = "string"
    required: bool = False
    options: list[tuple[str, str]] = field(default_factory=list)
    constraints: dict[str, str] = field(default_factory=dict)


@dataclass
class Node:
    id: str
    tag: str
    name: str
    lane: str
    shape: str
    doc: str = ""
    props: dict[str, str] = field(default_factory=dict)
    form: list[Field] = field(default_factory=list)
    script: str = ""
    timer: str = ""
    attached_to: str = ""
    cancel: bool = True
    called: str = ""
    groups: str = ""
    default: str = ""


@dataclass
class Flow:
    id: str
    source: str
    target: str
    name: str = ""
    condition: str = ""


class Diagram:
    def __init__(self, key: str, name: str, lanes: list[tuple[str, str]], doc: str = "") -> None:
        self.key, self.name, self.doc = key, name, doc
        self.lanes = lanes  # (role slug, lane label)
        self.nodes: dict[str, Node] = {}
        self.flows: list[Flow] = []

    # --- elements ------------------------------------------------------------------------
    def _add(self, node: Node) -> str:
        assert node.id not in self.nodes, node.id
        assert node.lane in dict(self.lanes), node.lane
        self.nodes[node.id] = node
        return node.id

    def start(self, id: str, name: str, lane: str, form: list[Field] | None = None, **props: str) -> str:
        return self._add(Node(id, "startEvent", name, lane, "event", form=form or [], props=props))

    def end(self, id: str, name: str, lane: str, **props: str) -> str:
        return self._add(Node(id, "endEvent", name, lane, "event", props=props))

    def user(self, id: str, name: str, lane: str, form: list[Field], doc: str = "", **props: str) -> str:
        return self._add(Node(id, "userTask", name, lane, "task", doc=doc, form=form, props=props, groups=lane))

    def script(self, id: str, name: str, lane: str, script: str, **props: str) -> str:
        return self._add(Node(id, "scriptTask", name, lane, "task", script=script, props=props))

    def call(self, id: str, name: str, lane: str, called: str, **props: str) -> str:
        return self._add(Node(id, "callActivity", name, lane, "task", called=called, props=props))

    def xor(self, id: str, name: str, lane: str) -> str:
        return self._add(Node(id, "exclusiveGateway", name, lane, "gateway"))

    def par(self, id: str, lane: str) -> str:
        return self._add(Node(id, "parallelGateway", "", lane, "gateway"))

    def boundary_timer(self, id: str, name: str, attached_to: str, time_date: str, cancel: bool = False) -> str:
        lane = self.nodes[attached_to].lane
        node = Node(id, "boundaryEvent", name, lane, "event", timer=time_date, attached_to=attached_to, cancel=cancel)
        return self._add(node)

    def flow(self, source: str, target: str, name: str = "", condition: str = "", default: bool = False) -> None:
        flow = Flow(f"Flow_{source}_{target}".replace("Task_", "").replace("Gateway_", "G"), source, target, name,
                    condition)  # fmt: skip
        assert all(f.id != flow.id for f in self.flows), flow.id
        self.flows.append(flow)
        if default:
            self.nodes[source].default = flow.id

    def chain(self, *ids: str) -> None:
        for source, target in zip(ids, ids[1:], strict=False):
            self.flow(source, target)

    # --- layout --------------------------------------------------------------------------
    def _outgoing(self) -> dict[str, list[str]]:
        outgoing: dict[str, list[str]] = defaultdict(list)
        for f in self.flows:
            outgoing[f.source].append(f.target)
        for n in self.nodes.values():
            if n.attached_to:
                outgoing[n.attached_to].append(n.id)
        return outgoing

    @staticmethod
    def _loops(outgoing: dict[str, list[str]], starts: list[str]) -> set[tuple[str, str]]:
        back: set[tuple[str, str]] = set()
        state: dict[str, int] = {}

        def visit(node: str) -> None:  # depth-first: an edge to a node still on the stack closes a loop
            state[node] = 1
            for nxt in outgoing[node]:
                if state.get(nxt) == 1:
                    back.add((node, nxt))
                elif nxt not in state:
                    visit(nxt)
            state[node] = 2

        for start in starts:
            visit(start)
        return back

    def _columns(self) -> dict[str, int]:
        """Longest path from a start event, ignoring loop edges; boundary events share their task's column."""
        outgoing = self._outgoing()
        starts = [n.id for n in self.nodes.values() if n.tag == "startEvent"]
        back = self._loops(outgoing, starts)
        col = {s: 0 for s in starts}
        changed = True
        while changed:
            changed = False
            edges = [(s, t) for s, ts in outgoing.items() for t in ts if (s, t) not in back and s in col]
            for source, target in edges:
                step = 0 if self.nodes[target].attached_to == source else 1
                if col.get(target, -1) < col[source] + step:
                    col[target] = col[source] + step
                    changed = True
        return col

    def layout(self) -> dict[str, tuple[float, float, float, float]]:
        cols = self._columns()
        missing = set(self.nodes) - set(cols)
        assert not missing, f"unreachable: {missing}"
        rows: dict[str, int] = {}
        used: dict[tuple[str, int], int] = defaultdict(int)
        for node_id in sorted(self.nodes, key=lambda i: (cols[i], list(self.nodes).index(i))):
            node = self.nodes[node_id]
            if node.attached_to:
                continue
            rows[node_id] = used[(node.lane, cols[node_id])]
            used[(node.lane, cols[node_id])] += 1
        lane_rows = {role: max([used[(role, c)] for c in set(cols.values())] + [1]) for role, _ in self.lanes}
        boxes: dict[str, tuple[float, float, float, float]] = {}
        lane_y, y = {}, POOL_Y
        for role, _ in self.lanes:
            lane_y[role] = y
            y += lane_rows[role] * ROW_H + LANE_PAD
        self.lane_boxes = {role: (lane_y[role], lane_rows[role] * ROW_H + LANE_PAD) for role, _ in self.lanes}
        for node_id, node in self.nodes.items():
            if node.attached_to:
                continue
            w, h = SIZES[node.shape]
            cx = POOL_X + LABEL_W + 90 + cols[node_id] * COL_W
            cy = lane_y[node.lane] + LANE_PAD / 2 + ROW_H / 2 + rows[node_id] * ROW_H
            boxes[node_id] = (cx - w / 2, cy - h / 2, w, h)
        for node_id, node in self.nodes.items():
            if node.attached_to:
                x, y0, w, h = boxes[node.attached_to]
                siblings = [n for n in self.nodes.values() if n.attached_to == node.attached_to]
                offset = siblings.index(node) * 40
                boxes[node_id] = (x + w - 30 - offset, y0 + h - 18, 36, 36)
        self.width = max(x + w for x, _, w, _ in boxes.values()) - POOL_X + 80
        self.height = y - POOL_Y
        return boxes

    def _route(self, boxes: dict, flow: Flow) -> list[tuple[float, float]]:
        """The first candidate route that crosses no other shape (else the simplest one)."""
        source = self.nodes[flow.source]
        src, tgt = boxes[flow.source], boxes[flow.target]
        others = [b for k, b in boxes.items() if k not in (flow.source, flow.target, source.attached_to)]
        candidates = _candidates(src, tgt, source.shape, bool(source.attached_to), others)
        for points in candidates:
            if not any(_crosses(points, box) for box in others):
                return points
        return candidates[0]

    # --- XML -----------------------------------------------------------------------------
    def to_xml(self) -> bytes:
        boxes = self.layout()
        root = etree.Element(q(BPMN, "definitions"), nsmap=NSMAP, id=f"Definitions_{self.key}",
                             targetNamespace="http://permanence-pathways.uk/bpmn", exporter="Permanence Pathways",
                             exporterVersion="1")  # fmt: skip
        collab = etree.SubElement(root, q(BPMN, "collaboration"), id=f"Collaboration_{self.key}")
        etree.SubElement(collab, q(BPMN, "participant"), id=f"Participant_{self.key}", name=self.name,
                         processRef=self.key)  # fmt: skip
        process = etree.SubElement(root, q(BPMN, "process"), id=self.key, name=self.name, isExecutable="true")
        if self.doc:
            etree.SubElement(process, q(BPMN, "documentation")).text = self.doc
        lane_set = etree.SubElement(process, q(BPMN, "laneSet"), id=f"LaneSet_{self.key}")
        for role, label in self.lanes:
            lane = etree.SubElement(lane_set, q(BPMN, "lane"), id=f"Lane_{role}", name=label)
            for node in self.nodes.values():
                if node.lane == role:
                    etree.SubElement(lane, q(BPMN, "flowNodeRef")).text = node.id
        for node in self.nodes.values():
            self._node_xml(process, node)
        for f in self.flows:
            el = etree.SubElement(process, q(BPMN, "sequenceFlow"), id=f.id, sourceRef=f.source, targetRef=f.target)
            if f.name:
                el.set("name", f.name)
            if f.condition:
                cond = etree.SubElement(el, q(BPMN, "conditionExpression"))
                cond.set(q(XSI, "type"), "bpmn:tFormalExpression")
                cond.text = f.condition
        self._di(root, boxes)
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)

    def _node_xml(self, process: Any, node: Node) -> None:
        el = etree.SubElement(process, q(BPMN, node.tag), id=node.id)
        attributes = {"name": node.name, q(CAMUNDA, "candidateGroups"): node.groups, "attachedToRef": node.attached_to,
                      "calledElement": node.called, "default": node.default,
                      "scriptFormat": "python" if node.tag == "scriptTask" else ""}  # fmt: skip
        for key, value in attributes.items():
            if value:
                el.set(key, value)
        if node.attached_to:
            el.set("cancelActivity", "true" if node.cancel else "false")
        if node.doc:
            etree.SubElement(el, q(BPMN, "documentation")).text = node.doc
        self._extensions(el, node)
        for tag, ids in (("incoming", [f.id for f in self.flows if f.target == node.id]),
                         ("outgoing", [f.id for f in self.flows if f.source == node.id])):  # fmt: skip
            for flow_id in ids:
                etree.SubElement(el, q(BPMN, tag)).text = flow_id
        if node.script:
            etree.SubElement(el, q(BPMN, "script")).text = node.script
        if node.timer:
            timer = etree.SubElement(el, q(BPMN, "timerEventDefinition"), id=f"TimerDef_{node.id}")
            time_date = etree.SubElement(timer, q(BPMN, "timeDate"))
            time_date.set(q(XSI, "type"), "bpmn:tFormalExpression")
            time_date.text = node.timer

    def _extensions(self, el: Any, node: Node) -> None:
        if not (node.form or node.props):
            return
        ext = etree.SubElement(el, q(BPMN, "extensionElements"))
        if node.form:
            self._form_xml(ext, node.form)
        if node.props:
            props = etree.SubElement(ext, q(CAMUNDA, "properties"))
            for name, value in node.props.items():
                etree.SubElement(props, q(CAMUNDA, "property"), name=name, value=value)

    @staticmethod
    def _form_xml(ext: Any, form: list[Field]) -> None:
        data = etree.SubElement(ext, q(CAMUNDA, "formData"))
        for f in form:
            fe = etree.SubElement(data, q(CAMUNDA, "formField"), id=f.id, label=f.label, type=f.type)
            if f.required or f.constraints:
                validation = etree.SubElement(fe, q(CAMUNDA, "validation"))
                if f.required:
                    etree.SubElement(validation, q(CAMUNDA, "constraint"), name="required")
                for name, config in f.constraints.items():
                    etree.SubElement(validation, q(CAMUNDA, "constraint"), name=name, config=config)
            for value, label in f.options:
                etree.SubElement(fe, q(CAMUNDA, "value"), id=value, name=label)

    def _di(self, root: Any, boxes: dict) -> None:
        diagram = etree.SubElement(root, q(BPMNDI, "BPMNDiagram"), id=f"Diagram_{self.key}")
        plane = etree.SubElement(diagram, q(BPMNDI, "BPMNPlane"), id=f"Plane_{self.key}",
                                 bpmnElement=f"Collaboration_{self.key}")  # fmt: skip
        self._shape(plane, f"Participant_{self.key}", (POOL_X, POOL_Y, self.width, self.height), horizontal=True)
        for role, _ in self.lanes:
            y, h = self.lane_boxes[role]
            self._shape(plane, f"Lane_{role}", (POOL_X + LABEL_W, y, self.width - LABEL_W, h), horizontal=True)
        for node_id, node in self.nodes.items():
            shape = self._shape(plane, node_id, boxes[node_id])
            if node.shape in ("event", "gateway") and node.name:
                x, y, w, h = boxes[node_id]
                label = etree.SubElement(shape, q(BPMNDI, "BPMNLabel"))
                etree.SubElement(label, q(DC, "Bounds"), x=f"{x - 25:.0f}", y=f"{y + h + 4:.0f}", width=f"{w + 50:.0f}",
                                 height="27")  # fmt: skip
        for f in self.flows:
            edge = etree.SubElement(plane, q(BPMNDI, "BPMNEdge"), id=f"{f.id}_di", bpmnElement=f.id)
            points = self._route(boxes, f)
            for x, y in points:
                etree.SubElement(edge, q(DI, "waypoint"), x=f"{x:.0f}", y=f"{y:.0f}")
            if f.name:
                label = etree.SubElement(edge, q(BPMNDI, "BPMNLabel"))
                (x0, y0), (_, y1) = points[0], points[1]
                x, y = (x0 + 6, y0 - 18) if abs(y0 - y1) < 1 else (x0 + 6, (y0 + y1) / 2 - 7)
                etree.SubElement(label, q(DC, "Bounds"), x=f"{x:.0f}", y=f"{y:.0f}", width="70", height="14")

    @staticmethod
    def _shape(plane: Any, element: str, box: tuple, horizontal: bool = False) -> Any:
        shape = etree.SubElement(plane, q(BPMNDI, "BPMNShape"), id=f"{element}_di", bpmnElement=element)
        if horizontal:
            shape.set("isHorizontal", "true")
        x, y, w, h = box
        etree.SubElement(shape, q(DC, "Bounds"), x=f"{x:.0f}", y=f"{y:.0f}", width=f"{w:.0f}", height=f"{h:.0f}")
        return shape


Point = tuple[float, float]


def _candidates(src: tuple, tgt: tuple, shape: str, boundary: bool, others: list[tuple]) -> list[list[Point]]:
    sx, sy, sw, sh = src
    tx, ty, tw, th = tgt
    scx, scy, tcy = sx + sw / 2, sy + sh / 2, ty + th / 2
    if boundary:
        start = (scx, sy + sh)
        down = [start, (scx, tcy), (tx, tcy)] if tcy > start[1] else []
        return [
            r for r in (down, [start, (scx, sy + sh + 20), (tx - 20, sy + sh + 20), (tx - 20, tcy), (tx, tcy)]) if r
        ]
    if tx < sx + sw:  # a loop back: run below (or above) both shapes
        below = max(sy + sh, ty + th) + 25
        above = min(sy, ty) - 25
        return [[(scx, sy + sh), (scx, below), (tx + tw / 2, below), (tx + tw / 2, ty + th)],
                [(scx, sy), (scx, above), (tx + tw / 2, above), (tx + tw / 2, ty)]]  # fmt: skip
    found: list[list[Point]] = []
    if abs(scy - tcy) < 1:
        found.append([(sx + sw, scy), (tx, tcy)])
    elif shape == "gateway":
        found.append([(scx, sy + sh) if tcy > scy else (scx, sy), (scx, tcy), (tx, tcy)])
    found.append([(sx + sw, scy), (tx - 25, scy), (tx - 25, tcy), (tx, tcy)])
    found.append([(sx + sw, scy), (sx + sw + 20, scy), (sx + sw + 20, tcy), (tx, tcy)])
    span = [b for b in others if b[0] < tx and b[0] + b[2] > sx + sw]
    below = max([sy + sh, ty + th] + [b[1] + b[3] for b in span if b[1] < max(sy + sh, ty + th) + 60]) + 20
    above = min([sy, ty] + [b[1] for b in span if b[1] + b[3] > min(sy, ty) - 60]) - 20
    found.append([(scx, sy + sh), (scx, below), (tx - 25, below), (tx - 25, tcy), (tx, tcy)])
    found.append([(scx, sy), (scx, above), (tx - 25, above), (tx - 25, tcy), (tx, tcy)])
    return found


def _crosses(points: list[Point], box: tuple) -> bool:
    x, y, w, h = box
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        if abs(y0 - y1) < 1 and y < y0 < y + h and min(x0, x1) < x + w and max(x0, x1) > x:
            return True
        if abs(x0 - x1) < 1 and x < x0 < x + w and min(y0, y1) < y + h and max(y0, y1) > y:
            return True
    return False
