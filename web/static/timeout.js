// The session timeout warning (the HMRC / MoJ timeout-warning pattern, WCAG 2.2.1 Timing Adjustable).
// Two minutes before the session ends a modal dialog says so, with "Stay signed in". Before warning it asks
// the server how long is really left (work in another tab keeps the session open). On a step's page the
// answers entered so far are saved as a draft when the warning opens and again just before the end, so
// nothing typed is lost when the session ends. Asking and auto-saving do not count as activity.
const dialog = document.getElementById("timeout-warning");
if (dialog && typeof dialog.showModal === "function") {
  const data = dialog.dataset;
  const warnMs = Number(data.warnSeconds) * 1000;
  const heading = document.getElementById("timeout-heading");
  const countdown = document.getElementById("timeout-countdown");
  const spoken = document.getElementById("timeout-spoken");
  const why = document.getElementById("timeout-why");
  const stay = document.getElementById("timeout-stay");
  const form = document.getElementById("task-form");
  let endsAt = Date.now() + Number(data.secondsLeft) * 1000;
  let final = data.final === "true";
  let timer = null;
  let ticker = null;
  let lastSpoken = null;

  const words = (ms) => {
    const seconds = Math.max(0, Math.ceil(ms / 1000));
    if (seconds >= 60) {
      const minutes = Math.ceil(seconds / 60);
      return minutes + (minutes === 1 ? " minute" : " minutes");
    }
    return seconds + (seconds === 1 ? " second" : " seconds");
  };
  const json = (url, method) => fetch(url, {
    method: method || "GET", credentials: "same-origin",
    headers: { Accept: "application/json", "X-CSRF-Token": data.csrf },
  }).then((r) => r.json());

  function saveDraft() {
    if (!form) return Promise.resolve();
    const answers = new FormData(form);
    answers.set("action", "save");
    return fetch(form.getAttribute("action"), {  // not form.action: the buttons are named "action"
      method: "POST", body: answers, credentials: "same-origin", headers: { "X-Timeout-Autosave": "1" },
    }).then((r) => { if (r.ok) document.getElementById("timeout-draft").hidden = false; }).catch(() => {});
  }

  function schedule() {
    clearTimeout(timer);
    const MAX_DELAY = 2147483647;  // a longer delay would overflow and fire at once: ask again then
    timer = setTimeout(check, Math.min(MAX_DELAY, Math.max(0, endsAt - warnMs - Date.now())));
  }

  function check() {
    json(data.statusUrl).then((s) => {
      if (!s.signed_in) return leave();
      endsAt = Date.now() + s.seconds_left * 1000;
      final = s.final;
      if (endsAt - Date.now() > warnMs + 1000) return schedule();
      return warn();
    }).catch(warn);
  }

  function tick() {
    const left = endsAt - Date.now();
    countdown.textContent = words(left);
    const said = left > 60000 ? Math.ceil(left / 60000) + "m" : (left > 20000 ? "1m" : "20s");
    if (said !== lastSpoken) {  // read out when it opens, at each minute and at 20 seconds, not every second
      lastSpoken = said;
      spoken.textContent = why.textContent.trim() + " " + words(left) + ".";
    }
  }

  function warn() {
    if (final) {
      why.textContent = "You have been signed in for as long as one sign-in lasts. For your security, we will sign you out in";
      stay.textContent = "Continue";
    }
    saveDraft();
    if (!dialog.open) dialog.showModal();
    heading.focus();
    lastSpoken = null;
    tick();
    clearInterval(ticker);
    ticker = setInterval(tick, 1000);
    clearTimeout(timer);
    timer = setTimeout(expire, Math.max(0, endsAt - Date.now() - 5000));  // a little early: the last draft lands
  }

  function close() {
    clearInterval(ticker);
    dialog.close();
  }

  function expire() {
    clearInterval(ticker);
    saveDraft().then(leave);
  }

  function leave() {
    const back = window.location.pathname + window.location.search;
    const target = data.loginUrl + "?timed_out=1&next=" + encodeURIComponent(back);
    json(data.endUrl, "POST").catch(() => {}).then(() => { window.location.assign(target); });
  }

  stay.addEventListener("click", () => {
    if (final) {  // the absolute limit cannot move: the dialog closes and the session ends when it must
      close();
      clearTimeout(timer);
      timer = setTimeout(expire, Math.max(0, endsAt - Date.now() - 5000));
      return;
    }
    json(data.extendUrl, "POST").then((s) => {
      if (!s.signed_in) return leave();
      endsAt = Date.now() + s.seconds_left * 1000;
      final = s.final;
      close();
      return schedule();
    }).catch(() => {});
  });
  document.getElementById("timeout-leave").addEventListener("click", () => { saveDraft().then(leave); });
  dialog.addEventListener("cancel", (event) => { event.preventDefault(); stay.click(); });  // Escape: stay
  schedule();
}
