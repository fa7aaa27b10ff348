// A text input with suggestions from a JSON lookup (the person form's 工作单位).
// The container's data-combobox is the lookup URL; it answers ?q=… with
// {results: [{id, name, credit_code, kind_label, region}], more}. Picking a suggestion
// (mouse, or ↑ ↓ and Enter) puts its name in the text input and its id in the hidden
// input [data-combobox-value]. Without this script the text alone is sent and the
// server resolves an exact name or 统一社会信用代码; the server checks the id anyway.
(function () {
  "use strict";
  var DELAY = 200;

  function setup(box) {
    var url = box.getAttribute("data-combobox");
    var input = box.querySelector("input[role=combobox]");
    var value = box.querySelector("input[data-combobox-value]");
    var list = box.querySelector("[role=listbox]");
    var note = box.querySelector(".combobox-note");
    if (!url || !input || !value || !list || !note) {
      return;
    }
    var items = [];
    var active = -1;
    var timer = null;
    var seq = 0; // answers to older requests are dropped
    var picked = value.value ? input.value : null; // the text of the current choice

    function open() {
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
    }

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function highlight(index) {
      var options = list.querySelectorAll("[role=option]");
      active = index;
      Array.prototype.forEach.call(options, function (option, i) {
        option.setAttribute("aria-selected", i === active ? "true" : "false");
      });
      input.setAttribute("aria-activedescendant", options[active].id);
      options[active].scrollIntoView({ block: "nearest" });
    }

    function describe(item) {
      return [item.kind_label, item.region, item.credit_code].filter(Boolean).join(" · ");
    }

    function pick(index) {
      var item = items[index];
      if (!item) {
        return;
      }
      input.value = item.name;
      value.value = String(item.id);
      picked = item.name;
      note.textContent = "已选择：" + describe(item);
      close();
    }

    function option(item, i) {
      var li = document.createElement("li");
      var name = document.createElement("span");
      var meta = document.createElement("small");
      li.id = list.id + "-" + i;
      li.className = "combobox-option";
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", "false");
      name.textContent = item.name;
      meta.textContent = describe(item);
      li.appendChild(name);
      li.appendChild(meta);
      li.addEventListener("mousedown", function (event) {
        event.preventDefault(); // keep the focus in the input
      });
      li.addEventListener("click", function () {
        pick(i);
      });
      return li;
    }

    function show(data) {
      items = data.results || [];
      list.textContent = "";
      items.forEach(function (item, i) {
        list.appendChild(option(item, i));
      });
      close();
      if (!items.length) {
        note.textContent = "没有匹配的单位";
        return;
      }
      open();
      note.textContent = data.more
        ? "仅显示前" + items.length + "个，请输入更多文字缩小范围"
        : "找到" + items.length + "个单位，可用 ↑ ↓ 键选择、回车确认";
    }

    function search() {
      var q = input.value.trim();
      var mine = ++seq;
      if (!q) {
        items = [];
        close();
        note.textContent = "";
        return;
      }
      fetch(url + "?q=" + encodeURIComponent(q), { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) {
          var type = response.headers.get("Content-Type") || "";
          if (!response.ok || type.indexOf("application/json") !== 0) {
            throw new Error("lookup failed: " + response.status);
          }
          return response.json();
        })
        .then(function (data) {
          if (mine === seq) {
            show(data);
          }
        })
        .catch(function () {
          if (mine === seq) {
            close();
            note.textContent = "无法加载候选单位，可直接填写完整的单位名称或统一社会信用代码";
          }
        });
    }

    input.addEventListener("input", function () {
      if (input.value !== picked) {
        value.value = ""; // typing drops the earlier choice
        picked = null;
      }
      clearTimeout(timer);
      timer = setTimeout(search, DELAY);
    });

    input.addEventListener("keydown", function (event) {
      var down = event.key === "ArrowDown";
      if (down || event.key === "ArrowUp") {
        event.preventDefault();
        if (!items.length) {
          return;
        }
        if (list.hidden) {
          open();
        }
        var n = items.length;
        highlight(active < 0 ? (down ? 0 : n - 1) : (active + (down ? 1 : n - 1)) % n);
      } else if (event.key === "Enter") {
        if (!list.hidden && active >= 0) {
          event.preventDefault(); // choose, do not submit
          pick(active);
        }
      } else if (event.key === "Escape") {
        if (!list.hidden) {
          event.preventDefault();
          close();
        }
      }
    });

    input.addEventListener("blur", close);
  }

  Array.prototype.forEach.call(document.querySelectorAll("[data-combobox]"), setup);
})();
