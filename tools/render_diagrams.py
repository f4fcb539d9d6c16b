"""Render every diagram in workflows/ to docs/diagrams/<key>.png with bpmn-js in headless Chromium.

    .venv/bin/python tools/render_diagrams.py      (make diagrams)

Needs `npm install` (bpmn-js) and Debian's chromium. The picture is what bpmn.io and Camunda
Modeler show, so a reviewer can look at the layout before publishing.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from lxml import etree

ROOT = Path(__file__).resolve().parents[1]
BPMN_JS = ROOT / "node_modules" / "bpmn-js" / "dist"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", "--virtual-time-budget=8000"]  # fmt: skip
PAGE = """<!doctype html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="{dist}/assets/diagram-js.css"><link rel="stylesheet" href="{dist}/assets/bpmn-js.css">
<style>html,body,#canvas{{margin:0;width:100%;height:100%;background:#fff}}</style></head>
<body><div id="canvas"></div><script src="{dist}/bpmn-viewer.production.min.js"></script>
<script>const viewer = new BpmnJS({{container: '#canvas'}});
viewer.importXML({xml}).then(() => viewer.get('canvas').zoom('fit-viewport'))
  .catch(err => {{ document.body.innerText = 'IMPORT FAILED: ' + err.message; }});</script></body></html>"""


def _extent(xml: bytes) -> tuple[int, int]:
    root = etree.fromstring(xml)
    xs, ys = [0.0], [0.0]
    for bounds in root.iter("{http://www.omg.org/spec/DD/20100524/DC}Bounds"):
        xs.append(float(bounds.get("x")) + float(bounds.get("width")))
        ys.append(float(bounds.get("y")) + float(bounds.get("height")))
    return int(max(xs)) + 60, int(max(ys)) + 60


def render(diagram: Path, out: Path) -> None:
    xml = diagram.read_bytes()
    width, height = _extent(xml)
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "page.html"
        page.write_text(PAGE.format(dist=BPMN_JS.as_uri(), xml=json.dumps(xml.decode("utf-8"))))
        command = ["chromium", *CHROMIUM_FLAGS, f"--user-data-dir={tmp}/profile", f"--window-size={width},{height}",
                   f"--screenshot={out}", page.as_uri()]  # fmt: skip
        subprocess.run(command, check=True, capture_output=True, timeout=120)


def main() -> None:
    out_dir = ROOT / "docs" / "diagrams"
    out_dir.mkdir(parents=True, exist_ok=True)
    for diagram in sorted((ROOT / "workflows").glob("*.bpmn")):
        out = out_dir / f"{diagram.stem}.png"
        render(diagram, out)
        print(f"rendered {out.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
