// Draws every Plotly figure on the page from its JSON data block (no inline scripts).
// A map (data-topojson) loads Plotly's base topology from the site, never from Plotly's CDN:
// the site's own empty one (static/geo/), since the map draws only the deployment's GeoJSON.
(function () {
  if (!window.Plotly) { return; }
  // locale: static/js/vendor/plotly-locale-zh-cn.js. No button sends a chart off the site:
  // Plotly 3's "Share chart..." (sendChartToCloud) would upload it to Plotly Cloud
  var config = { responsive: true, displaylogo: false, locale: "zh-CN",
                 modeBarButtonsToRemove: ["sendDataToCloud", "sendChartToCloud", "lasso2d", "select2d"] };
  document.querySelectorAll("[data-figure]").forEach(function (el) {
    var source = document.getElementById(el.getAttribute("data-figure"));
    if (!source) { return; }
    var figure = JSON.parse(source.textContent);
    var topojson = el.getAttribute("data-topojson");
    var options = topojson ? Object.assign({}, config, { topojsonURL: topojson }) : config;
    window.Plotly.newPlot(el, figure.data, figure.layout, options).then(function () {
      el.setAttribute("data-rendered", "1");
    });
  });

  // On paper (static/css/print.css) a chart is drawn to the printable width of an A4 page,
  // then back to the screen's width after printing.
  var PRINT_WIDTH = 640;
  function drawn() { return document.querySelectorAll("[data-figure][data-rendered]"); }
  function toPaper() {
    drawn().forEach(function (el) { window.Plotly.relayout(el, { width: PRINT_WIDTH, autosize: false }); });
  }
  function toScreen() {
    drawn().forEach(function (el) { window.Plotly.relayout(el, { width: null, autosize: true }); });
  }
  window.addEventListener("beforeprint", toPaper);
  window.addEventListener("afterprint", toScreen);
  var print = window.matchMedia && window.matchMedia("print");
  if (print && print.addEventListener) {
    print.addEventListener("change", function (event) { (event.matches ? toPaper : toScreen)(); });
  }
})();
