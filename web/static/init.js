// GOV.UK Frontend's JavaScript (service navigation toggle, error summary focus, etc.).
import { initAll } from "/vendor/govuk/govuk-frontend.min.js";
initAll();

// A table wider than the screen scrolls in its own box: that box takes the keyboard focus (so it can be
// scrolled without a mouse) only while it is wider than the screen.
function focusableWhenScrolling() {
  document.querySelectorAll(".pp-scroll").forEach(function (box) {
    if (box.scrollWidth > box.clientWidth + 1) box.setAttribute("tabindex", "0");
    else box.removeAttribute("tabindex");
  });
}
focusableWhenScrolling();
window.addEventListener("resize", focusableWhenScrolling);
