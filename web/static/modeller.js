// The process owners' modeller: bpmn-js with Camunda extensions, save with a revision check,
// and "check" (validation + dates for a sample case) on the diagram as it is in the editor.
(function () {
  var box = document.getElementById("modeller");
  var status = document.getElementById("modeller-status");
  var saveStatus = document.getElementById("save-status");
  if (!box || !window.PathwaysModeler) {
    if (status) status.textContent = "The modeller could not load. Download the file and edit it in Camunda Modeler.";
    return;
  }
  var revision = parseInt(box.dataset.revision, 10);
  var dirty = false;
  var modeler;
  var marked = [];

  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": box.dataset.csrf },
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().catch(function () { return { error: "HTTP " + r.status }; })
        .then(function (data) { data._ok = r.ok; return data; });
    });
  }

  function text(tag, value, className) {
    var node = document.createElement(tag);
    node.textContent = value == null ? "" : value;
    if (className) node.className = className;
    return node;
  }

  function showProblems(problems) {
    var list = document.getElementById("problems");
    var canvas = modeler.get("canvas");
    var registry = modeler.get("elementRegistry");
    marked.forEach(function (id) { if (registry.get(id)) canvas.removeMarker(id, "pp-problem"); });
    marked = [];
    list.innerHTML = "";
    problems.forEach(function (p) {
      var advice = p.severity === "warning";
      var item = text("li", "", advice ? "pp-warning" : "");
      if (advice) { item.appendChild(text("strong", "Advice", "govuk-tag govuk-tag--yellow")); item.appendChild(document.createTextNode(" ")); }
      item.appendChild(document.createTextNode(p.text));
      item.dataset.element = p.element || "";
      if (p.element && registry.get(p.element)) {
        canvas.addMarker(p.element, "pp-problem");
        marked.push(p.element);
        var show = text("button", "Show", "pp-link-button");
        show.setAttribute("aria-label", "Show " + p.element + " on the diagram");
        show.type = "button";
        show.addEventListener("click", function () {
          modeler.get("selection").select(registry.get(p.element));
          canvas.scrollToElement(registry.get(p.element));
        });
        item.appendChild(document.createTextNode(" "));
        item.appendChild(show);
      }
      list.appendChild(item);
    });
    if (!problems.some(function (p) { return p.severity !== "warning"; })) {
      list.appendChild(text("li", "No problems: this draft can be published.", "pp-valid"));
    }
  }

  // The sample case's dates, each a GOV.UK date input (day, month, year): never the browser's date picker,
  // whose order (mm/dd/yyyy in some browsers) a UK reader does not expect.
  var PARTS = [["day", "Day", 2], ["month", "Month", 2], ["year", "Year", 4]];

  function anchors() {
    var found = {};
    document.querySelectorAll("#anchors .govuk-date-input").forEach(function (group) {
      var name = group.dataset.name;
      var box = function (part) { return document.getElementById("anchor-" + name + "-" + part).value.trim(); };
      var day = box("day"), month = box("month"), year = box("year");
      var fieldset = group.closest(".govuk-form-group");
      var error = fieldset.querySelector(".govuk-error-message");
      var problem = "";
      if (day || month || year) {
        var d = Number(day), m = Number(month), y = Number(year);
        var when = new Date(Date.UTC(y, m - 1, d));
        if (!(day && month && year)) problem = "Enter a day, month and year";
        else if (!(y >= 1900 && y <= 2100 && when.getUTCFullYear() === y && when.getUTCMonth() === m - 1 && when.getUTCDate() === d)) {
          problem = "Enter a real date";
        } else found[name] = when.toISOString().slice(0, 10);
      }
      fieldset.classList.toggle("govuk-form-group--error", !!problem);
      error.hidden = !problem;
      error.lastChild.textContent = problem;
      group.querySelectorAll("input").forEach(function (input) { input.classList.toggle("govuk-input--error", !!problem); });
    });
    return found;
  }

  function showAnchors(names, sample) {
    var holder = document.getElementById("anchors");
    if (holder.childElementCount) return;
    names.forEach(function (name) {
      var words = name.replace(/_/g, " ");
      var group = text("div", "", "govuk-form-group");
      var fieldset = text("fieldset", "", "govuk-fieldset");
      fieldset.setAttribute("role", "group");
      fieldset.setAttribute("aria-describedby", "anchor-" + name + "-hint");
      fieldset.appendChild(text("legend", words.charAt(0).toUpperCase() + words.slice(1), "govuk-fieldset__legend govuk-fieldset__legend--s"));
      var hint = text("div", "For example, 18 12 2026", "govuk-hint");
      hint.id = "anchor-" + name + "-hint";
      fieldset.appendChild(hint);
      var error = text("p", "", "govuk-error-message");
      error.id = "anchor-" + name + "-error";
      error.hidden = true;
      error.appendChild(text("span", "Error: ", "govuk-visually-hidden"));
      error.appendChild(document.createTextNode(""));
      fieldset.appendChild(error);
      var inputs = text("div", "", "govuk-date-input");
      inputs.dataset.name = name;
      var parts = (sample[name] || "").split("-");  // ISO: year, month, day
      PARTS.forEach(function (part, n) {
        var item = text("div", "", "govuk-date-input__item");
        var wrap = text("div", "", "govuk-form-group");
        var label = text("label", part[1], "govuk-label govuk-date-input__label");
        label.htmlFor = "anchor-" + name + "-" + part[0];
        var input = document.createElement("input");
        input.className = "govuk-input govuk-date-input__input govuk-input--width-" + part[2];
        input.id = "anchor-" + name + "-" + part[0];
        input.name = name + "-" + part[0];
        input.type = "text"; input.inputMode = "numeric";
        var value = parts.length === 3 ? parts[2 - n] : "";
        input.value = value ? String(Number(value)) : "";
        wrap.appendChild(label); wrap.appendChild(input); item.appendChild(wrap); inputs.appendChild(item);
      });
      fieldset.appendChild(inputs);
      group.appendChild(fieldset);
      holder.appendChild(group);
    });
  }

  function showDates(rows) {
    var body = document.querySelector("#dates tbody");
    body.innerHTML = "";
    rows.forEach(function (r) {
      var tr = document.createElement("tr"); tr.className = "govuk-table__row"; tr.dataset.element = r.element;
      var what = text("td", r.label, "govuk-table__cell");
      what.appendChild(text("span", " (" + r.kind + ")", "govuk-body-s"));
      tr.appendChild(what);
      var rule = text("td", r.words && r.words !== r.expression ? r.words : r.expression, "govuk-table__cell pp-expression");
      if (r.words && r.words !== r.expression) rule.appendChild(text("span", " (" + r.expression + ")", "govuk-body-s"));
      tr.appendChild(rule);
      var due = r.error ? "does not work out: " + r.error : (r.due ? new Date(r.due + "T12:00:00").toLocaleDateString("en-GB", { day: "numeric", month: "long", year: "numeric" }) : "not applicable");
      tr.appendChild(text("td", due, "govuk-table__cell" + (r.error ? " pp-overdue-text" : "")));
      tr.appendChild(text("td", (r.status ? r.status + ": " : "") + (r.source || ""), "govuk-table__cell govuk-body-s"));
      body.appendChild(tr);
    });
  }

  function check() {
    status.textContent = "Checking…";
    return modeler.saveXML({ format: true }).then(function (result) {
      return post(box.dataset.check, { xml: result.xml, anchors: anchors() });
    }).then(function (data) {
      if (!data._ok) { status.textContent = "Could not check: " + (data.error || "unknown error"); return; }
      if (data.error) { status.textContent = data.error; }
      showProblems(data.problems || []);
      showAnchors(data.anchors || [], data.sample || {});
      showDates(data.dates || []);
      var errors = (data.problems || []).filter(function (p) { return p.severity !== "warning"; }).length;
      var advice = (data.problems || []).length - errors;
      status.textContent = errors + " problem(s)" + (advice ? ", " + advice + " piece(s) of advice" : "") + "; " + (data.dates || []).length + " dates worked out.";
      box.dataset.checked = "true";
    });
  }

  function save() {
    saveStatus.textContent = "Saving…";
    return modeler.saveXML({ format: true }).then(function (result) {
      return post(box.dataset.save, { xml: result.xml, revision: revision });
    }).then(function (data) {
      if (!data._ok) { saveStatus.textContent = "Not saved: " + (data.error || "unknown error"); return; }
      revision = data.revision; dirty = false;
      saveStatus.textContent = "Saved (revision " + revision + ")" + (data.status === "draft" ? "." : ", " + data.status + ".");
      box.dataset.saved = String(revision);
    });
  }

  // The properties panel's "Select" (a template) asks the app to choose: a GOV.UK radios dialog of the
  // templates that apply to the element (workflows/templates), applied with the element templates service.
  function chooseTemplate(element) {
    var dialog = document.getElementById("template-chooser");
    var choices = document.getElementById("template-choices");
    var templates = modeler.get("elementTemplates").getLatest(element);
    choices.innerHTML = "";
    templates.forEach(function (template, n) {
      var item = text("div", "", "govuk-radios__item");
      var input = document.createElement("input");
      input.className = "govuk-radios__input"; input.type = "radio"; input.name = "template";
      input.id = "template-" + n; input.value = template.id; input.checked = n === 0;
      var label = text("label", template.name, "govuk-label govuk-radios__label");
      label.htmlFor = input.id;
      var hint = text("div", template.description || "", "govuk-hint govuk-radios__hint");
      hint.id = input.id + "-hint"; input.setAttribute("aria-describedby", hint.id);
      item.appendChild(input); item.appendChild(label); item.appendChild(hint);
      choices.appendChild(item);
    });
    if (!templates.length) choices.appendChild(text("p", "No template applies to this kind of element.", "govuk-body"));
    dialog.onclose = function () {
      var chosen = choices.querySelector("input:checked");
      if (dialog.returnValue !== "apply" || !chosen) return;
      var template = templates.filter(function (t) { return t.id === chosen.value; })[0];
      applyKeeping(element, template);
    };
    dialog.returnValue = "";
    dialog.showModal();
  }

  // A Camunda 7 template replaces the element's properties with its own. What the element already says is
  // kept: its name, role and each property the template binds become the template's values, a due date
  // written as add_weeks(anchor, 2) is shown in words (2, weeks, anchor), and every other property is put back.
  var RULE = /^add_(working_days|days|weeks|months)\((\w+),\s*(-?\d+)\)$/;

  function propertiesOf(bo) {
    var found = {};
    ((bo.extensionElements && bo.extensionElements.values) || []).forEach(function (ext) {
      if (ext.$type === "camunda:Properties") (ext.values || []).forEach(function (p) { found[p.name] = p.value; });
    });
    return found;
  }

  function inWords(props, bound) {
    ["due", "not_before", "deadline.due"].forEach(function (prefix) {
      var rule = RULE.exec((props[prefix] || "").trim());
      if (!rule || !bound[prefix + "_amount"]) return;
      props[prefix + "_amount"] = rule[3]; props[prefix + "_unit"] = rule[1]; props[prefix + "_from"] = rule[2];
      delete props[prefix];
    });
  }

  function applyKeeping(element, template) {
    var bo = element.businessObject;
    var props = propertiesOf(bo);
    var bound = {};
    template.properties.forEach(function (p) { if (p.binding.type === "camunda:property") bound[p.binding.name] = true; });
    inWords(props, bound);
    var copy = JSON.parse(JSON.stringify(template));
    copy.properties.forEach(function (p) {
      var b = p.binding, now = null;
      if (b.type === "property" && b.name === "name") now = bo.name;
      else if (b.type === "property") now = bo.get(b.name);
      else if (b.type === "camunda:property") now = props[b.name];
      var allowed = !p.choices || p.choices.some(function (c) { return c.value === now; });
      if (now != null && now !== "" && allowed) p.value = String(now);
    });
    var applied = modeler.get("elementTemplates").applyTemplate(element, copy) || element;
    var kept = Object.keys(props).filter(function (name) { return !bound[name] && props[name] != null; });
    if (!kept.length) return;
    var holder = (applied.businessObject.extensionElements.values || []).filter(function (e) { return e.$type === "camunda:Properties"; })[0];
    var factory = modeler.get("bpmnFactory");
    var values = (holder.values || []).concat(kept.map(function (name) { return factory.create("camunda:Property", { name: name, value: props[name] }); }));
    modeler.get("modeling").updateModdleProperties(applied, holder, { values: values });
  }

  // After an edit the problems and the sample case's dates are worked out again once the owner pauses.
  var rechecking = null;
  function recheckSoon() {
    if (rechecking) clearTimeout(rechecking);
    rechecking = setTimeout(function () { rechecking = null; check(); }, 800);
  }

  fetch(box.dataset.templates, { credentials: "same-origin" })
    .then(function (r) { if (!r.ok) throw new Error("templates: HTTP " + r.status); return r.json(); })
    .then(function (templates) {
      // bpmn-js 18 with the properties panel, element templates and live bpmnlint (web/js/modeller-bundle.js)
      modeler = window.PathwaysModeler({ container: box, panel: document.getElementById("properties"), templates: templates });
      window.ppModeler = modeler; // for browser tests and the console
      modeler.get("eventBus").on("elementTemplates.select", function (event) { chooseTemplate(event.element); });
      return fetch(box.dataset.url, { credentials: "same-origin" });
    })
    .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.text(); })
    .then(function (xml) { return modeler.importXML(xml); })
    .then(function () {
      modeler.get("canvas").zoom("fit-viewport");
      modeler.on("commandStack.changed", function () { dirty = true; saveStatus.textContent = "Unsaved changes."; recheckSoon(); });
      box.dataset.ready = "true";
      status.textContent = "Edit the diagram; select an element to change it in the properties beside it (choose a template for a statutory step, a deadline, a gate or a case-system event). Save keeps a draft; nothing is published.";
      return check();
    })
    .catch(function (err) { status.textContent = "The modeller could not open the diagram (" + err.message + ")."; });

  function zoom(by) {
    if (!modeler) return;
    var canvas = modeler.get("canvas");
    if (by === "fit") canvas.zoom("fit-viewport", "auto"); else canvas.zoom(canvas.zoom() * by);
  }
  document.getElementById("zoom-in").addEventListener("click", function () { zoom(1.25); });
  document.getElementById("zoom-out").addEventListener("click", function () { zoom(0.8); });
  document.getElementById("zoom-fit").addEventListener("click", function () { zoom("fit"); });
  document.getElementById("find").addEventListener("click", function (event) {
    event.stopPropagation();  // the search pad closes on a click outside it: not on the click that opens it
    if (modeler) modeler.get("searchPad").toggle();
  });
  document.getElementById("save").addEventListener("click", save);
  document.getElementById("check").addEventListener("click", check);
  document.getElementById("preview").addEventListener("click", check);
  var submit = document.getElementById("submit-form");
  if (submit) submit.addEventListener("submit", function (event) {
    if (dirty) { event.preventDefault(); saveStatus.textContent = "Save the draft before submitting it."; }
  });
  window.addEventListener("beforeunload", function (event) { if (dirty) { event.preventDefault(); event.returnValue = ""; } });
})();
