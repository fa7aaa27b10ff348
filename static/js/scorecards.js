// The printed scorecard report (templates/scorecards/print.html): the 打印 button prints the
// page (static/css/scorecards.css lays it out on one A4 page; print.css hides the rest).
(function () {
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
})();
