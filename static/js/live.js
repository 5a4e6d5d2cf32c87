/* Live status: joins the page's asset/site rooms over Socket.IO and updates the page in
 * place (status chips, sentences, open-outage cells, counters). After a reconnect it
 * re-syncs from the JSON API, since events may have been missed while away.
 * Configuration comes from <script type="application/json" id="live-config">. */
(function () {
  "use strict";
  var node = document.getElementById("live-config");
  if (!node || typeof io === "undefined") { return; }
  var cfg = JSON.parse(node.textContent);
  var indicator = document.getElementById("live-indicator");
  var everConnected = false;

  function setIndicator(state) {
    if (!indicator) { return; }
    indicator.dataset.state = state;
    indicator.querySelector(".live-text").textContent = cfg.texts[state];
  }

  function fmtTime(iso, tz) {
    if (!iso) { return ""; }
    var d = new Date(iso);
    if (isNaN(d.getTime())) { return ""; }
    return new Intl.DateTimeFormat(cfg.locale, {
      timeZone: tz || cfg.tz || undefined, day: "numeric", month: "short", hour: "2-digit", minute: "2-digit"
    }).format(d);
  }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_m, k) { return values[k] === undefined ? "" : values[k]; });
  }

  function each(selector, fn) {
    Array.prototype.forEach.call(document.querySelectorAll(selector), fn);
  }

  function faultText(code) {
    if (!code) { return ""; }
    return cfg.faults[code] || code.replace(/_/g, " ");
  }

  function updateCounters(oldState, newState) {
    if (!oldState || oldState === newState) { return; }
    each("[data-live-count]", function (el) {
      var n = parseInt(el.textContent, 10) || 0;
      if (el.dataset.liveCount === oldState) { n -= 1; }
      if (el.dataset.liveCount === newState) { n += 1; }
      el.textContent = String(Math.max(0, n));
    });
  }

  function applyStatus(id, state, since, fault) {
    var first = document.querySelector('[data-live-chip="' + id + '"]');
    var oldState = first ? first.dataset.state : null;
    each('[data-live-chip="' + id + '"]', function (chip) {
      chip.dataset.state = state;
      chip.className = "chip chip-" + state;
      var label = chip.querySelector(".chip-label");
      if (label) { label.textContent = cfg.states[state] || state; }
      var f = chip.querySelector(".chip-fault");
      if (f) { f.textContent = fault && state !== "in_service" ? " · " + faultText(fault) : ""; }
    });
    each('[data-live-since="' + id + '"]', function (el) {
      el.textContent = fmtTime(since, el.dataset.tz);
      if (since) { el.setAttribute("datetime", since); }
    });
    each('[data-live-sentence="' + id + '"]', function (el) {
      var t = cfg.sentences[state] || cfg.sentences.unknown;
      el.textContent = fill(t, { name: el.dataset.name, time: fmtTime(since, el.dataset.tz) });
      el.dataset.state = state;
    });
    each('[data-live-fault="' + id + '"]', function (el) {
      el.textContent = fault && state !== "in_service" ? fill(cfg.texts.fault, { fault: faultText(fault) }) : "";
    });
    updateCounters(oldState, state);
  }

  function applyOutage(id, open, since, tz) {
    each('[data-live-outage="' + id + '"]', function (el) {
      el.textContent = open ? fill(cfg.texts.down_since, { time: fmtTime(since, el.dataset.tz || tz) }) : "—";
    });
  }

  function bump(el) {
    el.textContent = String((parseInt(el.textContent, 10) || 0) + 1);
    el.hidden = false;
  }

  function applyFeedback(id) {
    each('[data-live-feedback="' + id + '"]', bump);
    each('[data-live-feedback-none="' + id + '"]', function (el) { el.hidden = true; });
    each('[data-live-count="feedback-unread"]', bump);
  }

  var timelineTimers = {};
  function refreshTimelines(id) {
    each('[data-timeline-url][data-asset="' + id + '"]', function (el) {
      clearTimeout(timelineTimers[id]);
      timelineTimers[id] = setTimeout(function () {  // several events in a burst: one fetch
        fetch(el.dataset.timelineUrl, { credentials: "same-origin", headers: { Accept: "text/html" } })
          .then(function (r) { return r.ok ? r.text() : null; })
          .then(function (html) {
            if (!html) { return; }
            var box = document.createElement("div");
            box.innerHTML = html;
            var fresh = box.querySelector("[data-timeline-url]");
            if (fresh) { el.replaceWith(fresh); }
          })
          .catch(function () { /* the next event or reconnect tries again */ });
      }, 150);
    });
  }

  function apply(ev) {
    if (!ev || (!ev.asset_id && ev.type !== "feedback")) { return; }
    if (ev.state) { applyStatus(ev.asset_id, ev.state, ev.ts, ev.fault); }
    if (ev.type === "outage_opened") { applyOutage(ev.asset_id, true, ev.ts); }
    if (ev.type === "outage_closed") { applyOutage(ev.asset_id, false); }
    if (ev.type === "feedback") { applyFeedback(ev.asset_id); }
    if (ev.type === "watch") { each("[data-live-watch]", function (el) { el.hidden = false; }); }
    if (ev.type === "timeline" || ev.type === "outage_opened" || ev.type === "outage_closed") { refreshTimelines(ev.asset_id); }
    document.dispatchEvent(new CustomEvent("portal:live", { detail: ev }));
    var log = document.getElementById("live-last");
    if (log) { log.textContent = fill(cfg.texts.updated, { time: fmtTime(new Date().toISOString()) }); }
  }

  function resync() {
    if (!cfg.resync) { return; }
    fetch(cfg.resync, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (!body) { return; }
        var items = body.items || [body];
        items.forEach(function (it) {
          refreshTimelines(it.id);
          applyStatus(it.id, it.status.state, it.status.since, it.status.fault_code);
          applyOutage(it.id, !!it.open_outage, it.open_outage && it.open_outage.started_at);
        });
      })
      .catch(function () { /* next reconnect tries again */ });
  }

  var socket = io({ transports: ["websocket", "polling"], auth: cfg.resident ? { resident: cfg.resident } : {} });
  socket.on("connect", function () {
    socket.emit("join", { assets: cfg.assets || [], sites: cfg.sites || [] }, function () {
      setIndicator("live");
      document.body.dataset.live = "joined";
      if (everConnected || cfg.resync_on_join) { resync(); }
      everConnected = true;
    });
  });
  socket.on("disconnect", function () { setIndicator("reconnecting"); document.body.dataset.live = "off"; });
  socket.on("connect_error", function () { setIndicator("reconnecting"); });
  socket.on("live", apply);
  setIndicator("connecting");
})();
