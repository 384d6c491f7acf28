/* Chart glue for Shop Insights (Chart.js 4.5.1 from static/vendor).
 *
 * A chart is a <canvas data-chart="KIND" data-source="ID"> whose data sits in
 * <script type="application/json" id="ID"> (Django's json_script). Translated series names
 * come from data-l-* attributes, so this file holds no user-facing text. Charts are drawn
 * on page load and on every HTMX swap (htmx.onLoad). Each chart also has a text alternative
 * in the page (a table or a sentence), referenced by aria-describedby.
 */
(function () {
  "use strict";
  var lang = document.documentElement.lang || "en";
  var palette = ["#2563eb", "#16a34a", "#d97706", "#9333ea", "#0891b2", "#db2777", "#64748b", "#65a30d", "#dc2626", "#0d9488", "#7c3aed"];

  function fmt(value, currency, digits) {
    if (value === null || value === undefined || isNaN(value)) { return "—"; }
    var opts = { maximumFractionDigits: digits === undefined ? (Math.abs(value) >= 100 ? 0 : 2) : digits };
    if (currency) { opts.style = "currency"; opts.currency = currency; }
    try { return new Intl.NumberFormat(lang, opts).format(value); } catch (e) { return String(value); }
  }

  function shortDate(iso) {
    var d = new Date(iso + "T00:00:00");
    if (isNaN(d)) { return iso; }
    try { return new Intl.DateTimeFormat(lang, { month: "short", day: "numeric" }).format(d); } catch (e) { return iso; }
  }

  function readData(canvas) {
    var node = document.getElementById(canvas.dataset.source);
    return node ? JSON.parse(node.textContent) : null;
  }

  function forecastChart(canvas, data) {
    var currency = canvas.dataset.currency || "";
    var labels = [], index = {};
    function add(points) { points.forEach(function (p) { if (!(p.x in index)) { index[p.x] = labels.length; labels.push(p.x); } }); }
    add(data.history); add(data.mean);  // the forecast line starts at the period in progress, if any
    function series(points) {
      var out = labels.map(function () { return null; });
      points.forEach(function (p) { out[index[p.x]] = p.y; });
      return out;
    }
    var history = series(data.history);
    var mean = series(data.mean);
    // the period the data ends inside of: its actual so far, a hollow point apart from the line
    // (drawn as part of the line it would look like a collapse)
    var partial = data.partial ? series([data.partial]) : null;
    // join the forecast to the last actual so the line is continuous
    if (data.history.length && data.mean.length) { mean[index[data.history[data.history.length - 1].x]] = data.history[data.history.length - 1].y; }
    var d = canvas.dataset;
    return new Chart(canvas, {
      type: "line",
      data: {
        labels: labels,
        datasets: [
          { label: d.lBand95 || "95%", data: series(data.lo95), borderWidth: 0, pointRadius: 0, fill: false, backgroundColor: "rgba(37,99,235,.10)" },
          { label: d.lBand95 || "95%", data: series(data.hi95), borderWidth: 0, pointRadius: 0, fill: "-1", backgroundColor: "rgba(37,99,235,.10)" },
          { label: d.lBand80 || "80%", data: series(data.lo80), borderWidth: 0, pointRadius: 0, fill: false, backgroundColor: "rgba(37,99,235,.22)" },
          { label: d.lBand80 || "80%", data: series(data.hi80), borderWidth: 0, pointRadius: 0, fill: "-1", backgroundColor: "rgba(37,99,235,.22)" },
          { label: d.lForecast || "Forecast", data: mean, borderColor: "#2563eb", borderDash: [6, 4], borderWidth: 2, pointRadius: 0, fill: false },
          { label: d.lHistory || "Actual", data: history, borderColor: "#102a43", borderWidth: 1.6, pointRadius: 0, fill: false }
        ].concat(partial ? [
          { label: d.lPartial || "So far", data: partial, showLine: false, borderColor: "#d97706", backgroundColor: "#fff", borderWidth: 2.5, pointStyle: "rectRot", pointRadius: 6, pointHoverRadius: 8, fill: false }
        ] : [])
      },
      options: {
        maintainAspectRatio: false, spanGaps: false, interaction: { mode: "index", intersect: false },
        scales: {
          x: { ticks: { maxTicksLimit: 8, maxRotation: 0, callback: function (v) { return shortDate(this.getLabelForValue(v)); } }, grid: { display: false } },
          y: { beginAtZero: true, ticks: { callback: function (v) { return fmt(v, currency, 0); } } }
        },
        plugins: {
          legend: { labels: { filter: function (item) { return item.datasetIndex !== 0 && item.datasetIndex !== 2; } } },
          tooltip: { callbacks: { title: function (items) { return items.length ? shortDate(items[0].label) : ""; }, label: function (ctx) { return ctx.raw === null ? null : ctx.dataset.label + ": " + fmt(ctx.raw, currency); } } }
        }
      }
    });
  }

  function ratioChart(canvas, data) {
    var values = data.values.map(function (v) { return Math.min(Math.max(v, 0.05), 20); });
    return new Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [{
          label: canvas.dataset.lRatio || "× average",
          data: values.map(function (v) { return [1, v]; }),
          backgroundColor: values.map(function (v) { return v >= 1 ? "#2563eb" : "#d97706"; }),
          borderRadius: 4, borderSkipped: false
        }]
      },
      options: {
        indexAxis: "y", maintainAspectRatio: false,
        scales: {
          x: { type: "logarithmic", min: 0.1, max: 10, ticks: { callback: function (v) { return [0.1, 0.2, 0.5, 1, 2, 5, 10].indexOf(v) >= 0 ? v + "×" : ""; } } },
          y: { grid: { display: false } }
        },
        plugins: {
          legend: { display: false },
          tooltip: { callbacks: { label: function (ctx) { return fmt(data.values[ctx.dataIndex], "", 2) + "× " + (canvas.dataset.lAverage || ""); } } }
        }
      }
    });
  }

  function historyChart(canvas, data) {
    var currency = canvas.dataset.currency || "";
    var datasets = [{ type: "bar", label: canvas.dataset.lSize || "Customers", data: data.sizes, backgroundColor: "#93c5fd", yAxisID: "y" }];
    if (data.revenues && data.revenues.some(function (v) { return v !== null; })) {
      datasets.push({ type: "line", label: canvas.dataset.lRevenue || "Revenue", data: data.revenues, borderColor: "#16a34a", backgroundColor: "#16a34a", yAxisID: "y1", tension: .2 });
    }
    return new Chart(canvas, {
      data: { labels: data.labels, datasets: datasets },
      options: {
        maintainAspectRatio: false,
        scales: {
          y: { beginAtZero: true, position: "left" },
          y1: { beginAtZero: true, position: "right", display: datasets.length > 1, grid: { drawOnChartArea: false }, ticks: { callback: function (v) { return fmt(v, currency, 0); } } }
        }
      }
    });
  }

  function scatterChart(canvas, data) {
    function pts(list) { return list.map(function (p) { return { x: p[0], y: p[1] }; }); }
    return new Chart(canvas, {
      type: "scatter",
      data: {
        datasets: [
          { label: canvas.dataset.lMembers || "This segment", data: pts(data.members), backgroundColor: "rgba(37,99,235,.75)", pointRadius: 3 },
          { label: canvas.dataset.lOthers || "Other customers", data: pts(data.others), backgroundColor: "rgba(148,163,184,.35)", pointRadius: 2 }
        ]
      },
      options: {
        maintainAspectRatio: false, animation: false,
        scales: { x: { ticks: { display: false }, grid: { display: false } }, y: { ticks: { display: false }, grid: { display: false } } },
        plugins: { tooltip: { enabled: false } }
      }
    });
  }

  function shareChart(canvas, data) {
    return new Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [
          { label: canvas.dataset.lCustomers || "Customers", data: data.customers.map(function (v) { return v * 100; }), backgroundColor: "#93c5fd", borderRadius: 3 },
          { label: canvas.dataset.lRevenue || "Revenue", data: data.revenue.map(function (v) { return v * 100; }), backgroundColor: "#16a34a", borderRadius: 3 }
        ]
      },
      options: {
        indexAxis: "y", maintainAspectRatio: false,
        scales: { x: { ticks: { callback: function (v) { return v + "%"; } } }, y: { grid: { display: false } } },
        plugins: { tooltip: { callbacks: { label: function (ctx) { return ctx.dataset.label + ": " + fmt(ctx.raw, "", 1) + "%"; } } } }
      }
    });
  }

  var kinds = { forecast: forecastChart, ratio: ratioChart, history: historyChart, scatter: scatterChart, share: shareChart };

  function draw(root) {
    if (typeof Chart === "undefined") { return; }
    var canvases = (root.matches && root.matches("canvas[data-chart]")) ? [root] : root.querySelectorAll("canvas[data-chart]");
    Array.prototype.forEach.call(canvases, function (canvas) {
      if (canvas.dataset.drawn) { return; }
      var make = kinds[canvas.dataset.chart];
      var data = readData(canvas);
      if (!make || !data) { return; }
      canvas.dataset.drawn = "1";
      make(canvas, data);
    });
  }

  if (typeof Chart !== "undefined") {
    Chart.defaults.animation = false;
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    Chart.defaults.color = "#52606d";
  }
  if (window.htmx) { htmx.onLoad(draw); } else { document.addEventListener("DOMContentLoaded", function () { draw(document); }); }
})();
