// Site-wide behaviour, no inline scripts (the CSP forbids them).
document.addEventListener("submit", function (event) {
  var form = event.target;
  var message = form.getAttribute("data-confirm");
  if (message && !window.confirm(message)) {
    event.preventDefault();
  }
});

// The printed header names the filters the page shows (templates/base.html .print-header):
// each filled-in field of the page's filter forms, as "label：value".
(function () {
  var out = document.querySelector("[data-print-filters]");
  if (!out) { return; }
  var parts = [];
  document.querySelectorAll("form.filters").forEach(function (form) {
    form.querySelectorAll("label").forEach(function (label) {
      var control = label.querySelector("select, input:not([type=hidden]):not([type=submit]):not([type=checkbox])");
      if (!control || !control.value) { return; }
      var name = Array.prototype.filter.call(label.childNodes, function (node) { return node.nodeType === 3; })
        .map(function (node) { return node.textContent; }).join("").trim();
      var value = control.tagName === "SELECT" ? control.options[control.selectedIndex].text : control.value;
      parts.push((name ? name + "：" : "") + value.trim());
    });
  });
  if (parts.length) {
    out.textContent = "筛选条件：" + parts.join("；");
    out.hidden = false;
  }
})();
