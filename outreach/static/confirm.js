// Destructive forms carry data-confirm="Question?": ask before submitting. When the person agrees,
// a hidden `confirmed` field is set to 1 so the server skips its own confirmation page; without
// JavaScript the server asks instead.
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-confirm")) {
      return;
    }
    if (!window.confirm(form.getAttribute("data-confirm"))) {
      event.preventDefault();
      return;
    }
    const confirmed = form.elements.namedItem("confirmed");
    if (confirmed) {
      confirmed.value = "1";
    }
  });
})();
