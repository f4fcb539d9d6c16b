// Where cases wait: the pathway's diagram with a badge on each step (waiting / overdue), linking to the cases.
window.ppShowDiagram("The diagram viewer could not load; the table below has the same figures.",
  function (viewer, box) {
    var counts = JSON.parse(box.dataset.counts || "{}");
    var canvas = viewer.get("canvas");
    var registry = viewer.get("elementRegistry");
    var overlays = viewer.get("overlays");
    var shown = 0;
    Object.keys(counts).forEach(function (id) {
      if (!registry.get(id)) return;
      var c = counts[id];
      var link = document.createElement("a");
      link.className = "moj-badge moj-badge--blue pp-badge" + (c.overdue ? " pp-badge--has-overdue" : "");
      link.href = box.dataset.link.replace("ELEMENT", encodeURIComponent(id));
      link.id = "badge-" + id;
      // The name read out holds the figures shown (WCAG 2.5.3): "3 waiting, 1 overdue", the words hidden.
      var hidden = function (text) {
        var span = document.createElement("span");
        span.className = "govuk-visually-hidden";
        span.textContent = text;
        return span;
      };
      link.appendChild(document.createTextNode(c.waiting));
      link.appendChild(hidden(" waiting" + (c.overdue ? ", " : "")));
      if (c.overdue) {
        var red = document.createElement("span");
        red.className = "moj-badge moj-badge--red pp-badge__overdue";
        red.textContent = c.overdue;
        red.appendChild(hidden(" overdue"));
        link.appendChild(red);
      }
      overlays.add(id, { position: { top: -14, right: 14 }, html: link });
      canvas.addMarker(id, c.overdue ? "pp-heat-overdue" : "pp-heat");
      shown += 1;
    });
    // A wide pathway fitted to the box is too small to read: zoom in on where most cases wait.
    var busiest = Object.keys(counts).filter(function (id) { return registry.get(id); })
      .sort(function (a, b) { return counts[b].waiting - counts[a].waiting; })[0];
    if (busiest && canvas.zoom() < 0.6) {
      var el = registry.get(busiest);
      canvas.zoom(0.9);
      canvas.scrollToElement(el, { top: 150, bottom: 150, left: 300, right: 300 });
    }
    return shown ? shown + (shown === 1 ? " step has" : " steps have") + " cases waiting."
      : "No cases wait on this pathway.";
  });
