// The case page's diagram: where the case waits and what is done, marked on the viewer. It opens
// zoomed on where the case waits (the whole pathway when it waits nowhere), with zoom buttons.
window.ppShowDiagram("The diagram viewer could not load; the plan, the tasks and the history on this page are complete.",
  function (viewer, box) {
    var active = JSON.parse(box.dataset.active || "[]");
    var completed = JSON.parse(box.dataset.completed || "[]");
    var canvas = viewer.get("canvas");
    var registry = viewer.get("elementRegistry");
    completed.forEach(function (id) { if (registry.get(id)) canvas.addMarker(id, "pp-completed"); });
    active.forEach(function (id) { if (registry.get(id)) canvas.addMarker(id, "pp-active"); });
    var here = active.map(function (id) { return registry.get(id); }).filter(function (el) { return el && el.width; });

    function showHere() {
      if (!here.length) { canvas.zoom("fit-viewport"); return; }
      var left = Math.min.apply(null, here.map(function (el) { return el.x; }));
      var top = Math.min.apply(null, here.map(function (el) { return el.y; }));
      var right = Math.max.apply(null, here.map(function (el) { return el.x + el.width; }));
      var bottom = Math.max.apply(null, here.map(function (el) { return el.y + el.height; }));
      var margin = 160;  // a step or two either side, so the way in and out shows too
      canvas.viewbox({ x: left - margin, y: top - margin, width: right - left + 2 * margin,
                       height: bottom - top + 2 * margin });
    }
    document.querySelectorAll(".pp-zoom-button").forEach(function (button) {
      button.addEventListener("click", function () {
        var how = button.dataset.zoom;
        if (how === "in") canvas.zoom(canvas.zoom() * 1.25);
        else if (how === "out") canvas.zoom(canvas.zoom() / 1.25);
        else if (how === "fit") canvas.zoom("fit-viewport");
        else showHere();
      });
    });
    showHere();
    box.dataset.zoomedOn = here.map(function (el) { return el.id; }).join(",");
    return active.length ? "Waiting at: " + active.map(function (id) {
      var el = registry.get(id); return (el && el.businessObject.name) || id; }).join("; ") : "Not waiting anywhere.";
  });
