// Background import page: show the rows done every 2 seconds, and load the report at the end.
// Without JavaScript the page's "Refresh" link does the same by hand.
(function () {
  "use strict";

  const INTERVAL_MS = 2000;
  const number = new Intl.NumberFormat("en");

  function watch(panel) {
    const url = panel.dataset.importProgressUrl;
    const bar = panel.querySelector("progress");
    const summary = panel.querySelector("[data-import-summary]");
    async function poll() {
      try {
        const response = await fetch(url, { headers: { Accept: "application/json" } });
        if (response.ok) {
          const data = await response.json();
          if (data.finished) {
            window.location.reload();
            return;
          }
          bar.value = data.percent;
          bar.textContent = data.percent + "%";
          if (data.status === "queued") {
            summary.textContent = "Waiting to start.";
          } else if (data.rows_total === null) {
            summary.textContent = "Counting the rows.";
          } else {
            summary.textContent = number.format(data.rows_done) + " of " +
              number.format(data.rows_total) + " rows done (" + data.percent + "%).";
          }
        }
      } catch (error) {
        // A network blip: try again at the next tick.
      }
      window.setTimeout(poll, INTERVAL_MS);
    }
    window.setTimeout(poll, INTERVAL_MS);
  }

  if (window.fetch) {
    document.querySelectorAll("[data-import-progress-url]").forEach(watch);
  }
})();
