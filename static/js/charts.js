// Draws every Plotly figure on the page from its JSON data block (no inline scripts).
// A map (data-topojson) loads Plotly's base topology from the site, never from Plotly's CDN:
// the site's own empty one (static/geo/), since the map draws only the deployment's GeoJSON.
(function () {
  if (!window.Plotly) { return; }
  var config = { responsive: true, displaylogo: false, locale: "zh-CN",
                 modeBarButtonsToRemove: ["sendDataToCloud", "lasso2d", "select2d"] };
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
})();
