// The data export page: follows the export's progress until it is ready or failed.
(function () {
  "use strict";
  var box = document.querySelector(".export-status");
  if (!box) { return; }
  var bar = box.querySelector("progress");
  var message = box.querySelector(".export-message");
  var download = box.querySelector(".export-download");
  var url = box.getAttribute("data-status-url");

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (resp) { return resp.ok ? resp.json() : Promise.reject(resp.status); })
      .then(function (s) {
        bar.value = s.progress;
        box.setAttribute("data-state", s.state);
        if (s.state === "done" && s.download_url) {
          message.textContent = box.getAttribute("data-ready-text") || message.textContent;
          download.hidden = false;
          return;
        }
        if (s.state === "failed") {
          window.location.reload();
          return;
        }
        if (s.state === "running") {
          message.textContent = (box.getAttribute("data-running-text") || "").replace("%(num)d", s.progress);
        }
        window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  var state = box.getAttribute("data-state");
  if (state === "queued" || state === "running") { window.setTimeout(poll, 500); }
})();
