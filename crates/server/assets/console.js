// Custodian console: small enhancements over pages that work without JavaScript. No inline
// handlers (the CSP allows none).
(function () {
  "use strict";
  function wire(root) {
    root.querySelectorAll("[data-select-on-focus]").forEach(function (el) {
      el.addEventListener("focus", function () { el.select(); });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { wire(document); });
  // After htmx replaces the page body (boosted links), move focus to the main landmark so
  // screen readers announce the new page.
  document.addEventListener("htmx:afterSettle", function (e) {
    wire(e.target);
    if (e.detail && e.detail.boosted) {
      var main = document.getElementById("main");
      if (main) { main.focus(); }
    }
  });
})();
