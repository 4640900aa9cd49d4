// Campaign page: refresh the delivery figures every 3 seconds while the campaign sends.
// Without JavaScript the panel's "Refresh" link reloads the page instead.
(function () {
  "use strict";

  const INTERVAL_MS = 3000;
  const number = new Intl.NumberFormat("en");

  function plural(count, word) {
    return number.format(count) + " " + word;
  }

  function summary(data) {
    let text =
      number.format(data.processed) + " of " + number.format(data.total) +
      " messages done (" + data.percent + "%): " +
      plural(data.counts.sent, "sent") + ", " +
      plural(data.counts.failed, "failed") + ", " +
      plural(data.counts.skipped, "skipped");
    if (data.remaining) {
      text += "; " + number.format(data.remaining) + " to go";
    }
    return text + ".";
  }

  function setText(root, selector, value) {
    const element = root.querySelector(selector);
    if (element) {
      element.textContent = value;
    }
  }

  function update(panel, data, state) {
    for (const [status, count] of Object.entries(data.counts)) {
      setText(panel, '[data-count="' + status + '"]', number.format(count));
    }
    setText(panel, '[data-field="rate"]', number.format(data.rate_per_minute));
    setText(panel, '[data-field="eta"]', data.eta_text);
    const bar = panel.querySelector("[data-progress-bar]");
    if (bar) {
      bar.setAttribute("aria-valuenow", String(data.percent));
      const inner = bar.querySelector(".progress-bar");
      inner.style.width = data.percent + "%";
      inner.textContent = data.percent + "%";
    }
    // The live region speaks at each tenth of the way and at the end, not every 3 seconds.
    const step = Math.floor(data.percent / 10);
    if (step !== state.step || !data.remaining) {
      state.step = step;
      setText(panel, "[data-progress-summary]", summary(data));
    }
    if (data.status !== panel.dataset.status) {
      const notice = panel.querySelector("[data-progress-changed]");
      notice.replaceChildren(
        document.createTextNode("The campaign is now " + data.status + ". "),
        Object.assign(document.createElement("a"), {
          href: window.location.href,
          textContent: "Reload the page to see the details.",
        })
      );
      notice.classList.remove("d-none");
      // From scheduled to sending the figures keep moving; the buttons need the reload.
      panel.dataset.status = data.status;
    }
    return data.live;
  }

  function watch(panel) {
    const url = panel.dataset.progressUrl;
    const state = { step: null };
    async function poll() {
      let keepGoing = true;
      try {
        const response = await fetch(url, { headers: { Accept: "application/json" } });
        if (response.ok) {
          keepGoing = update(panel, await response.json(), state);
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
    document.querySelectorAll("[data-progress-url]").forEach(watch);
  }
})();
