// Draws every Plotly figure on the page from its JSON data block (no inline scripts).
(function () {
  if (!window.Plotly) { return; }
  var config = { responsive: true, displaylogo: false, locale: "zh-CN",
                 modeBarButtonsToRemove: ["sendDataToCloud", "lasso2d", "select2d"] };
  document.querySelectorAll("[data-figure]").forEach(function (el) {
    var source = document.getElementById(el.getAttribute("data-figure"));
    if (!source) { return; }
    var figure = JSON.parse(source.textContent);
    window.Plotly.newPlot(el, figure.data, figure.layout, config).then(function () {
      el.setAttribute("data-rendered", "1");
    });
  });
})();
