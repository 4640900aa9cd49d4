// Segment editor: refresh the live member count when a criterion changes.
// Without JavaScript, the "Preview count" button does the same through a form submission.
(function () {
  "use strict";

  const form = document.getElementById("segment-form");
  if (!form || !window.fetch) {
    return;
  }
  const url = form.dataset.previewUrl;
  const countEl = document.getElementById("segment-count");
  const everyoneEl = document.getElementById("segment-everyone");
  const sampleEl = document.getElementById("segment-sample");
  const moreEl = document.getElementById("segment-sample-more");
  const region = document.getElementById("segment-preview");
  const ignored = new Set(["csrf_token", "name", "description", "action"]);
  let timer = null;
  let controller = null;

  function queryString() {
    const params = new URLSearchParams();
    for (const [key, value] of new FormData(form)) {
      if (!ignored.has(key)) {
        params.append(key, value);
      }
    }
    return params.toString();
  }

  function showCount(count) {
    const strong = document.createElement("strong");
    strong.textContent = String(count);
    const text = count === 1 ? " contact matches." : " contacts match.";
    countEl.replaceChildren(strong, document.createTextNode(text));
  }

  function showSample(sample, count) {
    sampleEl.replaceChildren(
      ...sample.map(function (member) {
        const item = document.createElement("li");
        item.textContent = member.name ? member.name + " <" + member.email + ">" : member.email;
        return item;
      })
    );
    if (moreEl) {
      moreEl.classList.toggle("d-none", count <= sample.length);
    }
  }

  function showError(error) {
    const fields = error && error.fields ? Object.values(error.fields) : [];
    const message = (error && error.message) || "The count could not be updated.";
    countEl.textContent = fields.length ? message + " " + fields.join(" ") : message;
    sampleEl.replaceChildren();
    everyoneEl.classList.add("d-none");
  }

  async function refresh() {
    if (controller) {
      controller.abort();
    }
    controller = new AbortController();
    region.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(url + "?" + queryString(), {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
        signal: controller.signal,
      });
      const body = await response.json();
      if (!response.ok) {
        showError(body.error);
        return;
      }
      showCount(body.count);
      showSample(body.sample, body.count);
      everyoneEl.classList.toggle("d-none", !body.matches_everyone);
    } catch (err) {
      if (err.name !== "AbortError") {
        showError(null);
      }
    } finally {
      region.removeAttribute("aria-busy");
    }
  }

  function schedule(event) {
    if (event.target && ignored.has(event.target.name)) {
      return;
    }
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 300);
  }

  form.addEventListener("change", schedule);
  form.addEventListener("input", schedule);
})();
