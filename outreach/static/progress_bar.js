// Progress bars take their width from data-percent: the page's policy allows no style attributes.
(function () {
  "use strict";

  document.querySelectorAll(".progress-bar[data-percent]").forEach(function (bar) {
    bar.style.width = bar.dataset.percent + "%";
  });
})();
