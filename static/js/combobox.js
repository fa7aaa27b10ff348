// A text input with suggestions, in two forms sharing one behaviour (the list, ↑ ↓ Enter
// Escape, the note under the input):
//
// 1. [data-combobox] (the person form's 工作单位): the container's data-combobox is a JSON
//    lookup URL answering ?q=… with {results: [{id, name, credit_code, kind_label, region}],
//    more}. Picking a suggestion puts its name in the text input and its id in the hidden
//    input [data-combobox-value]. Without this script the text alone is sent and the server
//    resolves an exact name or 统一社会信用代码; the server checks the id anyway.
//
// 2. select[data-combobox-select] (the record form's 受帮扶村): a plain <select> that this
//    script turns into a searchable input over the select's own options (every word typed
//    must appear in the option's text: "镇溪 一村", or a division code). The select stays in
//    the form, visually hidden, and holds the value: picking an option sets it and fires its
//    "change" event, so scripts listening to the select keep working. Without this script
//    the select is shown as it is.
(function () {
  "use strict";
  var DELAY = 200;
  var LOCAL_LIMIT = 30;

  // source: {search(q, done, fail), describe(item), noun, picked(item), cleared(), failed}
  function setup(box, input, value, list, note, source) {
    var items = [];
    var active = -1;
    var timer = null;
    var seq = 0; // answers to older requests are dropped
    var picked = value() ? input.value : null; // the text of the current choice

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

    function pick(index) {
      var item = items[index];
      if (!item) {
        return;
      }
      input.value = item.name;
      picked = item.name;
      source.picked(item);
      note.textContent = "已选择：" + (source.describe(item) || item.name);
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
      meta.textContent = source.describe(item);
      li.appendChild(name);
      if (meta.textContent) {
        li.appendChild(meta);
      }
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
        note.textContent = "没有匹配的" + source.noun;
        return;
      }
      open();
      note.textContent = data.more
        ? "仅显示前" + items.length + "个，请输入更多文字缩小范围"
        : "找到" + items.length + "个" + source.noun + "，可用 ↑ ↓ 键选择、回车确认";
    }

    function search() {
      var q = input.value.trim();
      var mine = ++seq;
      if (!q && !source.listsAll) {
        items = [];
        close();
        note.textContent = "";
        return;
      }
      source.search(q, function (data) {
        if (mine === seq) {
          show(data);
        }
      }, function () {
        if (mine === seq) {
          close();
          note.textContent = source.failed;
        }
      });
    }

    input.addEventListener("input", function () {
      if (input.value !== picked) {
        if (picked !== null || value()) {
          source.cleared(); // typing drops the earlier choice
        }
        picked = null;
      }
      clearTimeout(timer);
      timer = setTimeout(search, source.delay);
    });

    input.addEventListener("keydown", function (event) {
      var down = event.key === "ArrowDown";
      if (down || event.key === "ArrowUp") {
        event.preventDefault();
        if (!items.length) {
          if (source.listsAll) {
            search();
          }
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

    return {
      // the value changed from outside (another script set the select): show its text
      sync: function (text) {
        input.value = text;
        picked = text || null;
        note.textContent = "";
        close();
      },
    };
  }

  function remote(box) {
    var url = box.getAttribute("data-combobox");
    var input = box.querySelector("input[role=combobox]");
    var hidden = box.querySelector("input[data-combobox-value]");
    var list = box.querySelector("[role=listbox]");
    var note = box.querySelector(".combobox-note");
    if (!url || !input || !hidden || !list || !note) {
      return;
    }
    setup(box, input, function () { return hidden.value; }, list, note, {
      noun: "单位",
      delay: DELAY,
      listsAll: false,
      failed: "无法加载候选单位，可直接填写完整的单位名称或统一社会信用代码",
      describe: function (item) {
        return [item.kind_label, item.region, item.credit_code].filter(Boolean).join(" · ");
      },
      picked: function (item) { hidden.value = String(item.id); },
      cleared: function () { hidden.value = ""; },
      search: function (q, done, fail) {
        fetch(url + "?q=" + encodeURIComponent(q), { headers: { Accept: "application/json" }, credentials: "same-origin" })
          .then(function (response) {
            var type = response.headers.get("Content-Type") || "";
            if (!response.ok || type.indexOf("application/json") !== 0) {
              throw new Error("lookup failed: " + response.status);
            }
            return response.json();
          })
          .then(done)
          .catch(fail);
      },
    });
  }

  function local(select) {
    var noun = select.getAttribute("data-combobox-select") || "选项";
    var box = document.createElement("div");
    var input = document.createElement("input");
    var list = document.createElement("ul");
    var note = document.createElement("p");
    box.className = "combobox combobox-local";
    input.type = "text";
    input.id = select.id + "-search";
    input.autocomplete = "off";
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", select.id + "-options");
    input.placeholder = "输入" + noun + "名称或代码搜索";
    list.id = select.id + "-options";
    list.className = "combobox-list";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", "候选" + noun);
    list.hidden = true;
    note.className = "combobox-note";
    note.setAttribute("aria-live", "polite");
    box.appendChild(input);
    box.appendChild(list);
    box.appendChild(note);
    select.parentNode.insertBefore(box, select);
    box.appendChild(select);
    select.classList.add("combobox-native");
    select.tabIndex = -1;
    select.setAttribute("aria-hidden", "true");
    Array.prototype.forEach.call(document.querySelectorAll("label[for='" + select.id + "']"), function (label) {
      label.htmlFor = input.id;
    });

    function chosenText() {
      var option = select.options[select.selectedIndex];
      return option && option.value ? option.text : "";
    }
    input.value = chosenText();

    var quiet = false; // our own change events are not news to us
    var box_ = setup(box, input, function () { return select.value; }, list, note, {
      noun: noun,
      delay: 0,
      listsAll: true,
      failed: "",
      describe: function () { return ""; },
      picked: function (item) {
        select.value = item.id;
        quiet = true;
        select.dispatchEvent(new Event("change", { bubbles: true }));
        quiet = false;
      },
      cleared: function () {
        select.value = "";
        quiet = true;
        select.dispatchEvent(new Event("change", { bubbles: true }));
        quiet = false;
      },
      search: function (q, done) {
        var words = q.toLowerCase().split(/\s+/).filter(Boolean);
        var found = [];
        Array.prototype.forEach.call(select.options, function (option) {
          if (!option.value || option.disabled) {
            return;
          }
          var text = option.text.toLowerCase();
          if (words.every(function (word) { return text.indexOf(word) !== -1; })) {
            found.push({ id: option.value, name: option.text });
          }
        });
        done({ results: found.slice(0, LOCAL_LIMIT), more: found.length > LOCAL_LIMIT });
      },
    });
    select.addEventListener("change", function () {
      if (!quiet) {
        box_.sync(chosenText());
      }
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("[data-combobox]"), remote);
  Array.prototype.forEach.call(document.querySelectorAll("select[data-combobox-select]"), local);
})();
