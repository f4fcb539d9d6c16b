// Shared by the pages with a read-only diagram: load the bpmn-js viewer into #diagram from its data-url,
// fit it, then let the page draw on it; draw(viewer, box) returns the text for #diagram-status.
window.ppShowDiagram = function (unavailable, draw) {
  var box = document.getElementById("diagram");
  var status = document.getElementById("diagram-status");
  if (!box || !window.BpmnJS) {
    if (status) status.textContent = unavailable;
    return;
  }
  var viewer = new window.BpmnJS({ container: box });
  fetch(box.dataset.url, { credentials: "same-origin" })
    .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.text(); })
    .then(function (xml) { return viewer.importXML(xml); })
    .then(function () {
      viewer.get("canvas").zoom("fit-viewport");
      status.textContent = draw(viewer, box);
      box.dataset.ready = "true";
    })
    .catch(function (err) { status.textContent = "The diagram could not be shown (" + err.message + ")."; });
};
