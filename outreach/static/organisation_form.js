// Organisation form: show the fields of the chosen type and name the country field accordingly.
(function () {
  "use strict";

  const type = document.getElementById("type");
  const countryLabel = document.querySelector('label[for="country_code"]');
  if (!type || !countryLabel) {
    return;
  }
  function update() {
    document.querySelectorAll("[data-show-for]").forEach(function (el) {
      el.hidden = el.getAttribute("data-show-for") !== type.value;
    });
    countryLabel.textContent = type.value === "permanent_mission" ? "State represented" : "Country";
  }
  type.addEventListener("change", update);
  update();
})();
