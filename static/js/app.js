// Site-wide behaviour, no inline scripts (the CSP forbids them).
document.addEventListener("submit", function (event) {
  var form = event.target;
  var message = form.getAttribute("data-confirm");
  if (message && !window.confirm(message)) {
    event.preventDefault();
  }
});

// A form that posts is sent once: a second press of its button while the first is on its way
// (a slow village network) would file the same record twice. A form a later handler keeps on
// the page (the offline app queues some on the device) may be sent again; otherwise the
// answer replaces the page, and a page brought back by the back button can be sent again.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (event.defaultPrevented || (form.getAttribute("method") || "get").toLowerCase() !== "post") { return; }
  if (form.hasAttribute("data-sending")) {
    event.preventDefault();
    return;
  }
  form.setAttribute("data-sending", "");
  window.setTimeout(function () {  // a handler after this one kept the form on the page
    if (event.defaultPrevented) { form.removeAttribute("data-sending"); }
  }, 0);
});
window.addEventListener("pageshow", function (event) {
  if (event.persisted) {
    document.querySelectorAll("form[data-sending]").forEach(function (form) { form.removeAttribute("data-sending"); });
  }
});

// A file field's chosen files, named beside its 选择文件 button (templates/_macros.html): the
// browser's own input, which would say "No file chosen" in the browser's language, is hidden.
(function () {
  function size(bytes) {
    return bytes >= 1048576 ? (bytes / 1048576).toFixed(1) + " MB" : Math.max(1, Math.round(bytes / 1024)) + " KB";
  }
  function show(input) {
    var out = input.closest(".file-pick").querySelector("[data-file-names]");
    if (!out) { return; }
    var files = Array.prototype.slice.call(input.files || []);
    out.textContent = !files.length ? out.getAttribute("data-file-names") || "未选择文件"
      : files.length === 1 ? files[0].name + "（" + size(files[0].size) + "）"
      : "已选择 " + files.length + " 个文件：" + files.map(function (file) { return file.name; }).join("、");
  }
  document.addEventListener("change", function (event) {
    if (event.target.classList && event.target.classList.contains("file-pick-input")) { show(event.target); }
  });
  window.addEventListener("pageshow", function () {  // a page brought back keeps or drops its files
    document.querySelectorAll(".file-pick-input").forEach(show);
  });
})();

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

// The navigation's groups (templates/_nav.html) are <details> disclosures, usable without this
// script. With it, one group is open at a time, and an open group closes on Escape (focus back
// on its summary), on a click or tap elsewhere, and when the keyboard focus leaves it.
(function () {
  var groups = document.querySelectorAll("details.navgroup");
  if (!groups.length) { return; }
  function closeAll(except) {
    groups.forEach(function (group) {
      if (group !== except && group.open) { group.open = false; }
    });
  }
  groups.forEach(function (group) {
    group.addEventListener("toggle", function () {
      if (group.open) { closeAll(group); }
    });
    group.addEventListener("focusout", function (event) {
      if (event.relatedTarget && !group.contains(event.relatedTarget)) { group.open = false; }
    });
  });
  document.addEventListener("click", function (event) {
    if (!event.target.closest || !event.target.closest("details.navgroup")) { closeAll(null); }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    var open = document.querySelector("details.navgroup[open]");
    if (!open) { return; }
    open.open = false;
    open.querySelector("summary").focus();
  });
})();
