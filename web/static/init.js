// GOV.UK Frontend's JavaScript (service navigation toggle, error summary focus, etc.).
import { initAll } from "/vendor/govuk/govuk-frontend.min.js";
initAll();
