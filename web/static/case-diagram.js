// The case page's diagram: bpmn-js viewer, with where the case waits and what is done marked.
(function () {
  var box = document.getElementById("diagram");
  var status = document.getElementById("diagram-status");
  if (!box || !window.BpmnJS) {
    if (status) status.textContent = "The diagram viewer could not load; the tasks and timeline below are complete.";
    return;
  }
  var active = JSON.parse(box.dataset.active || "[]");
  var completed = JSON.parse(box.dataset.completed || "[]");
  var viewer = new window.BpmnJS({ container: box });
  fetch(box.dataset.url, { credentials: "same-origin" })
    .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.text(); })
    .then(function (xml) { return viewer.importXML(xml); })
    .then(function () {
      var canvas = viewer.get("canvas");
      var registry = viewer.get("elementRegistry");
      canvas.zoom("fit-viewport");
      completed.forEach(function (id) { if (registry.get(id)) canvas.addMarker(id, "pp-completed"); });
      active.forEach(function (id) { if (registry.get(id)) canvas.addMarker(id, "pp-active"); });
      box.dataset.ready = "true";
      status.textContent = active.length ? "Waiting at: " + active.map(function (id) {
        var el = registry.get(id); return (el && el.businessObject.name) || id; }).join("; ") : "Not waiting anywhere.";
    })
    .catch(function (err) { status.textContent = "The diagram could not be shown (" + err.message + ")."; });
})();
