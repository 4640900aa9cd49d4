// Dashboard: refresh the progress of the campaigns listed every 5 seconds while any is live.
// Without JavaScript the figures are those of the page load.
(function () {
  "use strict";

  const INTERVAL_MS = 5000;
  const number = new Intl.NumberFormat("en");

  function update(list, data) {
    let live = false;
    for (const campaign of data.campaigns) {
      const item = list.querySelector('[data-campaign-id="' + campaign.id + '"]');
      if (!item) {
        continue;
      }
      const bar = item.querySelector("progress");
      bar.value = campaign.percent;
      bar.textContent = campaign.percent + "%";
      item.querySelector('[data-field="percent"]').textContent = campaign.percent + "%";
      let summary = "Not started yet";
      if (campaign.total) {
        summary = number.format(campaign.processed) + " of " + number.format(campaign.total) +
          " messages done";
      }
      if (campaign.status !== "scheduled") {
        summary += " (" + campaign.status + ")";
      }
      item.querySelector('[data-field="summary"]').textContent = summary;
      live = live || campaign.live;
    }
    return live;
  }

  function watch(list) {
    const url = list.dataset.dashboardProgressUrl;
    async function poll() {
      let keepGoing = true;
      try {
        const response = await fetch(url, { headers: { Accept: "application/json" } });
        if (response.ok) {
          keepGoing = update(list, await response.json());
        }
      } catch (error) {
        // A network blip: try again at the next tick.
      }
      if (keepGoing) {
        window.setTimeout(poll, INTERVAL_MS);
      }
    }
    window.setTimeout(poll, INTERVAL_MS);
  }

  if (window.fetch) {
    document.querySelectorAll("[data-dashboard-progress-url]").forEach(watch);
  }
})();
