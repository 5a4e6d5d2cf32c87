/* Sensor charts (uPlot): one chart per series, 24 h / 7 d / 30 d, downsampled on the
 * server. Dragging across a chart zooms every chart and fetches finer data for that
 * window; double-click returns to the chosen range. Times are shown in the site's zone. */
(function () {
  "use strict";
  var root = document.getElementById("charts");
  if (!root || typeof uPlot === "undefined") { return; }
  var status = document.querySelector(".charts-status");
  var tz = root.dataset.tz, locale = root.dataset.locale;
  var plots = [], currentRange = "24h", syncing = false, lastKey = "";
  var tzDate = function (ts) { return uPlot.tzDate(new Date(ts * 1000), tz); };
  var numFmt = new Intl.NumberFormat(locale, { maximumFractionDigits: 2 });
  var hourFmt = new Intl.DateTimeFormat(locale, { timeZone: tz, hour: "2-digit", minute: "2-digit" });
  var dayFmt = new Intl.DateTimeFormat(locale, { timeZone: tz, day: "numeric", month: "short" });
  var fullFmt = new Intl.DateTimeFormat(locale, { timeZone: tz, day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });

  function timeTicks(u, ticks) {
    var span = u.scales.x.max - u.scales.x.min;
    return ticks.map(function (t) { return (span > 3 * 86400 ? dayFmt : hourFmt).format(new Date(t * 1000)); });
  }

  function say(text) { if (status) { status.textContent = text; } }

  function width() { return Math.max(160, Math.min(root.clientWidth - 8, 1100)); }  // phones: fit the card

  function build(body) {
    plots.forEach(function (p) { p.destroy(); });
    plots = [];
    root.innerHTML = "";
    var any = false;
    body.series.forEach(function (s) {
      var xs = s.times.map(function (t) { return t / 1000; });
      if (s.values.some(function (v) { return v !== null; })) { any = true; }
      var fig = document.createElement("figure");
      fig.className = "chart";
      fig.dataset.field = s.field;
      var cap = document.createElement("figcaption");
      cap.textContent = s.label + " (" + s.unit + ")";
      fig.appendChild(cap);
      root.appendChild(fig);
      var opts = {
        width: width(), height: 170, tzDate: tzDate,
        cursor: { sync: { key: "asset", setSeries: false }, drag: { x: true, y: false } },
        scales: { x: { time: true } },
        legend: { show: true },
        series: [
          { value: function (_u, t) { return t === null || t === undefined ? "—" : fullFmt.format(new Date(t * 1000)); } },
          { label: s.label, stroke: s.kind === "rate" ? "#0b4f8a" : "#a40e26", width: 1.5,
            fill: s.kind === "rate" ? "rgba(11,79,138,0.08)" : undefined, spanGaps: false,
            value: function (_u, v) { return v === null || v === undefined ? "—" : numFmt.format(v) + " " + s.unit; } }
        ],
        axes: [{ values: timeTicks }, { size: 56, values: function (_u, ticks) { return ticks.map(function (v) { return numFmt.format(v); }); } }],
        hooks: { setSelect: [onSelect], drawClear: [overlay(s)], ready: [function (u) { u.over.addEventListener("dblclick", function () { load(currentRange); }); }] }
      };
      if (s.band) { opts.scales.y = { range: widen(s.band) }; }
      if ((s.warnings && s.warnings.length) || s.band) { fig.dataset.overlay = "true"; }
      plots.push(new uPlot(opts, [xs, s.values], fig));
    });
    root.dataset.loaded = "true";
    say(any ? "" : root.dataset.empty);
  }

  // Sensor warnings (for those allowed to know of them): the usual band in green, the
  // periods under warning shaded in amber, drawn under the line.
  function overlay(s) {
    return function (u) {
      var ctx = u.ctx, top = u.bbox.top, height = u.bbox.height, left = u.bbox.left, w = u.bbox.width;
      ctx.save();
      if (s.band) {
        var y1 = u.valToPos(s.band[1], "y", true), y0 = u.valToPos(s.band[0], "y", true);
        ctx.fillStyle = "rgba(26,127,55,0.12)";
        ctx.fillRect(left, Math.max(top, y1), w, Math.min(top + height, y0) - Math.max(top, y1));
      }
      (s.warnings || []).forEach(function (p) {
        var x0 = u.valToPos(Date.parse(p.start) / 1000, "x", true);
        var x1 = p.end ? u.valToPos(Date.parse(p.end) / 1000, "x", true) : left + w;
        x0 = Math.max(left, x0); x1 = Math.min(left + w, x1);
        if (x1 > x0) { ctx.fillStyle = "rgba(212,167,44,0.22)"; ctx.fillRect(x0, top, x1 - x0, height); }
      });
      ctx.restore();
    };
  }

  function widen(band) {  // keep the band in view even when the line stays inside it
    return function (_u, min, max) {
      var lo = Math.min(min === null ? band[0] : min, band[0]), hi = Math.max(max === null ? band[1] : max, band[1]);
      var pad = (hi - lo) * 0.05 || 1;
      return [lo - pad, hi + pad];
    };
  }

  function onSelect(u) {
    if (syncing || u.select.width < 5) { return; }
    var min = u.posToVal(u.select.left, "x"), max = u.posToVal(u.select.left + u.select.width, "x");
    syncing = true;
    u.setSelect({ left: 0, width: 0, top: 0, height: 0 }, false);
    syncing = false;
    fetchData({ start: new Date(min * 1000).toISOString(), end: new Date(max * 1000).toISOString() });
  }

  function fetchData(params) {
    var key = JSON.stringify(params);
    lastKey = key;
    var url = root.dataset.url + "?" + new URLSearchParams(params).toString();
    say(root.dataset.loading);
    root.dataset.loaded = "loading";
    root.setAttribute("aria-busy", "true");
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); })
      .then(function (body) { if (key === lastKey) { build(body); } })
      .catch(function () { if (key === lastKey) { say(root.dataset.failed); root.dataset.loaded = "error"; } })
      .then(function () { root.removeAttribute("aria-busy"); });
  }

  function load(range) {
    currentRange = range;
    Array.prototype.forEach.call(document.querySelectorAll("button.range"), function (b) {
      b.setAttribute("aria-pressed", b.dataset.range === range ? "true" : "false");
    });
    fetchData({ range: range });
  }

  Array.prototype.forEach.call(document.querySelectorAll("button.range"), function (b) {
    b.addEventListener("click", function () { load(b.dataset.range); });
  });
  window.addEventListener("resize", function () {
    plots.forEach(function (p) { p.setSize({ width: width(), height: 170 }); });
  });
  load(currentRange);
})();
