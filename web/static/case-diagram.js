// The case page's diagram: where the case waits and what is done, marked on the viewer.
window.ppShowDiagram("The diagram viewer could not load; the tasks and timeline below are complete.",
  function (viewer, box) {
    var active = JSON.parse(box.dataset.active || "[]");
    var completed = JSON.parse(box.dataset.completed || "[]");
    var canvas = viewer.get("canvas");
    var registry = viewer.get("elementRegistry");
    completed.forEach(function (id) { if (registry.get(id)) canvas.addMarker(id, "pp-completed"); });
    active.forEach(function (id) { if (registry.get(id)) canvas.addMarker(id, "pp-active"); });
    return active.length ? "Waiting at: " + active.map(function (id) {
      var el = registry.get(id); return (el && el.businessObject.name) || id; }).join("; ") : "Not waiting anywhere.";
  });
