// The offline app on the page (issue 15): registers the service worker (/sw.js), keeps the
// pages a village needs without a connection, and queues what is decided offline —
// 确认属实, 提出异议 (with the reason), a month of 驻村纪实 — in IndexedDB, each with the
// page's CSRF token and the version of the record it was decided on. When the connection
// returns the queue is sent, oldest first; a record changed meanwhile is refused by the
// server (409) and the refusal is shown here, never overwritten. The panel
// #offline-queue always shows what waits and what was sent. Logging out clears it all.
(function () {
  "use strict";
  if (!("serviceWorker" in navigator) || !window.indexedDB || !window.caches || !window.fetch) { return; }

  var DB_NAME = "registry-offline";
  var PAGES_CACHE = "registry-pages";
  var KEEP_EVERY_MS = 10 * 60 * 1000;
  var RETRY_MS = 20 * 1000;
  var SHOWN_SENT = 20;
  var KINDS = {confirm: "确认属实", dispute: "提出异议", duty: "驻村纪实"};
  var ATTEST = "我已核对以上金额、受益户数和人数及佐证材料，与本村实际情况一致";

  var CONFIRM_PATH = /^\/records\/(\d+)\/confirm$/;
  var DISPUTE_PATH = /^\/records\/(\d+)\/dispute$/;
  var DUTY_PATH = /^\/duty\/posting\/(\d+)\/new$/;
  var OFFLINE_PAGES = [/^\/records\/inbox$/, /^\/records\/\d+$/, DUTY_PATH];

  navigator.serviceWorker.register("/sw.js", {scope: "/"}).catch(function () { /* the pages work without it */ });

  // -- IndexedDB: "queue" (what was decided offline) and "meta" (whose device, the token) ------

  var opened = null;

  function db() {
    if (!opened) {
      opened = new Promise(function (resolve, reject) {
        var request = indexedDB.open(DB_NAME, 1);
        request.onupgradeneeded = function () {
          var d = request.result;
          d.createObjectStore("queue", {keyPath: "id", autoIncrement: true});
          d.createObjectStore("meta", {keyPath: "key"});
        };
        request.onsuccess = function () {
          var d = request.result;
          d.onversionchange = function () { d.close(); opened = null; }; // another tab logs out
          resolve(d);
        };
        request.onerror = function () { reject(request.error); };
      });
    }
    return opened;
  }

  function store(name, mode, work) {
    return db().then(function (d) {
      return new Promise(function (resolve, reject) {
        var tx = d.transaction(name, mode);
        var result = work(tx.objectStore(name));
        tx.oncomplete = function () { resolve(result && "result" in result ? result.result : result); };
        tx.onerror = function () { reject(tx.error); };
        tx.onabort = function () { reject(tx.error); };
      });
    });
  }

  function allItems() { return store("queue", "readonly", function (s) { return s.getAll(); }); }
  function putItem(item) { return store("queue", "readwrite", function (s) { return s.put(item); }); }
  function dropItem(id) { return store("queue", "readwrite", function (s) { return s.delete(id); }); }
  function getMeta(key) {
    return store("meta", "readonly", function (s) { return s.get(key); }).then(function (row) { return row ? row.value : null; });
  }
  function setMeta(key, value) { return store("meta", "readwrite", function (s) { return s.put({key: key, value: value}); }); }

  function waiting(items) { return items.filter(function (i) { return i.state === "waiting"; }); }

  // Everything this app keeps on the device, gone (logout; another user on this device).
  function wipe() {
    var closing = opened ? opened.then(function (d) { d.close(); }).catch(function () {}) : Promise.resolve();
    opened = null;
    return closing.then(function () {
      return Promise.all([
        new Promise(function (resolve) {
          var request = indexedDB.deleteDatabase(DB_NAME);
          request.onsuccess = request.onerror = request.onblocked = function () { resolve(); };
        }),
        caches.keys().then(function (names) {
          return Promise.all(names.filter(function (n) { return n.indexOf("registry-") === 0; })
            .map(function (n) { return caches.delete(n); }));
        }),
        navigator.serviceWorker.getRegistrations().then(function (found) {
          return Promise.all(found.map(function (r) { return r.unregister(); }));
        })
      ]);
    }).catch(function () {});
  }

  // -- the panel: what waits, what was sent ---------------------------------------------------

  var problem = "";

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { node.textContent = attrs[k]; } else { node.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) { if (c) { node.appendChild(typeof c === "string" ? document.createTextNode(c) : c); } });
    return node;
  }

  function when(ms) {
    var d = new Date(ms);
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    return (d.getMonth() + 1) + "月" + d.getDate() + "日 " + pad(d.getHours()) + ":" + pad(d.getMinutes());
  }

  function offlinePage() {
    var path = location.pathname;
    return OFFLINE_PAGES.some(function (p) { return p.test(path); });
  }

  function panel() {
    var found = document.getElementById("offline-queue");
    if (found) { return found; }
    var main = document.querySelector("main.content");
    if (!main) { return null; }
    found = el("section", {id: "offline-queue", "class": "card offline-queue", "aria-live": "polite"});
    var after = main.querySelectorAll(".flash");
    main.insertBefore(found, after.length ? after[after.length - 1].nextSibling : main.firstChild);
    return found;
  }

  function itemLine(item) {
    var parts = [el("b", {text: KINDS[item.kind] || item.kind}), " · " + item.title];
    if (item.reason) { parts.push("（理由：" + item.reason + "）"); }
    return parts;
  }

  function render() {
    return allItems().then(function (items) {
      var queued = waiting(items);
      var done = items.filter(function (i) { return i.state !== "waiting"; })
        .sort(function (a, b) { return (b.sentAt || 0) - (a.sentAt || 0); }).slice(0, SHOWN_SENT);
      // nothing kept on this device: the panel shows only while offline on a page that
      // works offline (to say so); online, an empty panel is only noise
      if (!items.length && (navigator.onLine || !offlinePage())) {
        var old = document.getElementById("offline-queue");
        if (old) { old.parentNode.removeChild(old); }
        return;
      }
      var box = panel();
      if (!box) { return; }
      box.textContent = "";
      var online = navigator.onLine;
      box.className = "card offline-queue" + (online ? "" : " is-offline");
      box.appendChild(el("h2", {}, ["离线操作 ", el("small", {"class": "offline-state", id: "offline-state",
        text: online ? "当前在线" : "当前离线：操作先保存在本机，联网后自动发送"})]));
      if (problem) { box.appendChild(el("p", {"class": "offline-problem", text: problem})); }

      box.appendChild(el("h3", {text: "待发送（" + queued.length + "）"}));
      if (queued.length) {
        box.appendChild(el("ul", {"class": "offline-list", id: "offline-waiting"}, queued.map(function (item) {
          return el("li", {"class": "waiting", "data-record": item.recordId || ""},
            itemLine(item).concat([el("small", {"class": "muted", text: " 保存于 " + when(item.queuedAt)})]));
        })));
        if (online) {
          var now = el("button", {type: "button", "class": "btn btn-small", text: "立即发送"});
          now.addEventListener("click", function () { sync(); });
          box.appendChild(now);
        }
      } else {
        box.appendChild(el("p", {"class": "muted", text: "没有待发送的操作。"}));
      }

      if (done.length) {
        box.appendChild(el("h3", {text: "已发送"}));
        box.appendChild(el("ul", {"class": "offline-list", id: "offline-sent"}, done.map(function (item) {
          var refused = item.state === "refused";
          var line = el("li", {"class": refused ? "refused" : "sent", "data-record": item.recordId || ""},
            [el("span", {"class": "offline-mark", text: refused ? "未保存" : "已送达"})].concat(itemLine(item)).concat([
              el("small", {"class": "muted", text: " 发送于 " + when(item.sentAt)}),
              el("br"), el("span", {"class": "offline-message", text: item.message || ""})
            ]));
          if (refused && item.recordUrl) {
            line.appendChild(document.createTextNode(" "));
            line.appendChild(el("a", {href: item.recordUrl, text: "查看最新内容"}));
          }
          var dismiss = el("button", {type: "button", "class": "linklike", text: refused ? "知道了" : "移除"});
          dismiss.addEventListener("click", function () { dropItem(item.id).then(render); });
          line.appendChild(document.createTextNode(" "));
          line.appendChild(dismiss);
          return line;
        })));
      }
      markCards(items);
    });
  }

  // A card (inbox) or the decision box (record page) of a record with a queued or sent
  // decision says so, and offers no second decision while one waits.
  function markCards(items) {
    items.forEach(function (item) {
      if (!item.recordId) { return; }
      var card = document.getElementById("record-" + item.recordId) ||
        (location.pathname === "/records/" + item.recordId ? document.getElementById("decide") : null);
      if (!card) { return; }
      var note = card.querySelector(".offline-note");
      if (!note) {
        note = el("p", {"class": "offline-note"});
        card.insertBefore(note, card.firstChild);
      }
      var text = {waiting: "已保存在本机，联网后发送：", sent: "已送达：", refused: "未保存："}[item.state] +
        (KINDS[item.kind] || "") + (item.state === "refused" ? "。" + item.message : "");
      note.textContent = text;
      note.className = "offline-note " + item.state;
      var closed = item.state !== "refused";
      card.querySelectorAll("form button, details.dispute").forEach(function (node) {
        if (node.tagName === "DETAILS") { node.hidden = closed; } else { node.disabled = closed; }
      });
      var attest = card.querySelector(".offline-attest");
      if (attest && closed) { attest.parentNode.removeChild(attest); }
    });
  }

  // -- taking decisions offline ---------------------------------------------------------------

  function hidden(form, name) {
    var input = form.querySelector("[name=" + name + "]");
    return input ? input.value : "";
  }

  function titleFor(form) {
    var card = form.closest("section.inbox-item");
    var heading = (card && card.querySelector("h2 a, h2")) || document.querySelector("main h1");
    if (!heading) { return ""; }
    heading = heading.cloneNode(true);  // the title alone, not the tags and notes beside it
    heading.querySelectorAll("small, .tag").forEach(function (n) { n.parentNode.removeChild(n); });
    return heading.textContent.replace(/\s+/g, " ").trim();
  }

  function headingText() {  // 填报驻村纪实 张三 · 第一书记 · 某村
    var heading = document.querySelector("main h1");
    return heading ? heading.textContent.replace(/\s+/g, " ").trim() : "";
  }

  function queue(item) {
    item.state = "waiting";
    item.queuedAt = Date.now();
    return getMeta("user").then(function (user) {
      item.user = user;
      return putItem(item);
    }).then(render);
  }

  function fieldError(box, message) {
    var error = box.querySelector(".offline-error");
    if (!error) {
      error = el("p", {"class": "field-error offline-error", role: "alert"});
      box.appendChild(error);
    }
    error.textContent = message;
  }

  function offerConfirm(form, recordId) {
    var host = form.closest(".actions") || form.parentNode;
    var box = host.parentNode.querySelector(".offline-attest");
    if (box) { box.querySelector("input").focus(); return; }
    var tick = el("input", {type: "checkbox", id: "offline-attest-" + recordId});
    var button = el("button", {type: "button", "class": "btn btn-primary", text: "确认属实（联网后发送）"});
    box = el("div", {"class": "offline-attest", role: "group", "aria-label": "离线确认"}, [
      el("p", {"class": "note", text: "当前没有网络。请再次核对以上内容，勾选后点“确认属实（联网后发送）”：确认先保存在本机，联网后自动发送。"}),
      el("label", {"for": tick.id}, [tick, " " + ATTEST]),
      el("div", {"class": "actions"}, [button])
    ]);
    host.parentNode.insertBefore(box, host.nextSibling);
    button.addEventListener("click", function () {
      if (!tick.checked) { fieldError(box, "请勾选“我已核对……”，确认您已核对以上内容后再点“确认属实”"); return; }
      queue({kind: "confirm", recordId: recordId, url: "/offline/records/" + recordId, csrf: hidden(form, "csrf_token"),
             title: titleFor(form), recordUrl: "/records/" + recordId,
             body: {action: "confirm", version: hidden(form, "version"), attest: true}});
    });
    tick.focus();
  }

  function queueDispute(form, recordId) {
    var reason = (form.querySelector("[name=reason]").value || "").trim();
    if (!reason) { fieldError(form, "请填写异议理由"); return; }
    queue({kind: "dispute", recordId: recordId, url: "/offline/records/" + recordId, csrf: hidden(form, "csrf_token"),
           title: titleFor(form), reason: reason, recordUrl: "/records/" + recordId,
           body: {action: "dispute", version: hidden(form, "version"), reason: reason}});
  }

  function queueDuty(form, postingId) {
    var body = {};
    ["month", "days_in_village", "leave_days", "leave_approved_by", "absences", "summary"].forEach(function (name) {
      var field = form.querySelector("[name=" + name + "]");
      body[name] = field ? field.value : "";
    });
    if (!String(body.days_in_village).trim()) { fieldError(form, "请填写在村天数"); return; }
    var month = form.querySelector("select[name=month]");
    var label = month && month.selectedIndex >= 0 ? month.options[month.selectedIndex].text : body.month;
    queue({kind: "duty", postingId: postingId, url: "/offline/duty/" + postingId, csrf: hidden(form, "csrf_token"),
           title: headingText() + " · " + label + " · 在村" + body.days_in_village + "天",
           recordUrl: "/duty/posting/" + postingId, body: body}).then(function () {
      form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
      fieldError(form, "已保存在本机，联网后自动发送（见上方“离线操作”）。");
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var path = new URL(form.action, location.href).pathname;
    if (path === "/logout") {
      event.preventDefault();
      allItems().catch(function () { return []; }).then(function (items) {
        var left = waiting(items).length;
        if (left && !window.confirm("还有 " + left + " 条离线操作未发送，退出后将从本机清除。确定退出？")) { return; }
        wipe().then(function () { form.submit(); });
      });
      return;
    }
    if (navigator.onLine || event.defaultPrevented || (form.method || "").toLowerCase() !== "post") { return; }
    var match;
    if ((match = CONFIRM_PATH.exec(path))) {
      event.preventDefault();
      offerConfirm(form, match[1]);
    } else if ((match = DISPUTE_PATH.exec(path)) && form.querySelector("[name=reason]")) {
      event.preventDefault();
      queueDispute(form, match[1]);
    } else if ((match = DUTY_PATH.exec(path))) {
      event.preventDefault();
      queueDuty(form, match[1]);
    } else {
      event.preventDefault();
      fieldError(form, "当前没有网络，此操作需要联网后才能提交。");
    }
  });

  // -- sending --------------------------------------------------------------------------------

  var syncing = false;

  function Stop(message) { this.message = message; }

  function freshToken() {
    return fetch("/offline/pages", {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (response) {
        if (!response.ok || response.redirected) { throw new Stop("登录已过期：请重新登录，登录后将自动发送。"); }
        return response.json();
      }).then(function (body) { return body.csrf_token; });
  }

  function send(item, retried) {
    return fetch(item.url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": item.csrf},
      body: JSON.stringify(item.body)
    }).catch(function () {
      throw new Stop("网络不通，稍后自动重试。");
    }).then(function (response) {
      if (response.status === 401 || (response.redirected && /\/login/.test(response.url))) {
        throw new Stop("登录已过期：请重新登录，登录后将自动发送。");
      }
      if (response.status >= 500 || response.status === 429) {
        throw new Stop("服务器暂时无法处理（" + response.status + "），稍后自动重试。");
      }
      return response.json().catch(function () { return {message: "服务器的答复无法识别（" + response.status + "）"}; })
        .then(function (body) {
          if (response.status === 400 && !retried && /CSRF/.test(body.message || "")) {
            return freshToken().then(function (token) { item.csrf = token; return send(item, true); });
          }
          item.state = response.status === 200 ? "sent" : "refused";
          item.status = response.status;
          item.message = body.message || "";
          if (body.record && body.record.url) { item.recordUrl = body.record.url; }
          item.sentAt = Date.now();
          return putItem(item);
        });
    });
  }

  // Send what waits, oldest first; resolves to how many were answered.
  function sync() {
    if (syncing || !navigator.onLine) { return Promise.resolve(0); }
    syncing = true;
    var answered = 0;
    return allItems().then(function (items) {
      var queued = waiting(items).sort(function (a, b) { return a.id - b.id; });
      return queued.reduce(function (chain, item) {
        return chain.then(function () { return send(item); }).then(function () { answered += 1; return render(); });
      }, Promise.resolve());
    }).then(function () {
      problem = "";
    }, function (error) {
      problem = error instanceof Stop ? error.message : "发送时出错，稍后自动重试。";
    }).then(function () {
      syncing = false;
      return render();
    }).then(function () { return answered; });
  }

  // -- keeping pages for offline use ----------------------------------------------------------

  // What this user's device keeps (GET /offline/pages); another user's data found on the
  // device (a session that lapsed without a logout) is dropped first.
  function whatToKeep() {
    return fetch("/offline/pages", {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (response) {
        if (!response.ok || response.redirected) { throw new Stop(""); }
        return response.json();
      }).then(function (kept) {
        return getMeta("user").then(function (user) {
          if (user !== null && user !== kept.user) {
            return wipe().then(function () {
              navigator.serviceWorker.register("/sw.js", {scope: "/"}).catch(function () {});
            });
          }
        }).then(function () {
          return Promise.all([setMeta("user", kept.user), setMeta("csrf", kept.csrf_token)]);
        }).then(function () { return kept; });
      });
  }

  function keepAll(list) {
    return caches.open(PAGES_CACHE).then(function (cache) {
      var keep = {};
      list.forEach(function (u) { keep[u] = true; });
      // the records and photos that left the inbox are not kept any longer
      return cache.keys().then(function (requests) {
        return Promise.all(requests.filter(function (r) {
          var path = new URL(r.url).pathname;
          return /^\/records\/\d+(\/evidence\/\d+\/thumb)?$/.test(path) && !keep[path];
        }).map(function (r) { return cache.delete(r); }));
      }).then(function () {
        return list.reduce(function (chain, url) {
          return chain.then(function () {
            return fetch(url, {credentials: "same-origin"}).then(function (response) {
              if (response.ok && !response.redirected) { return cache.put(url, response); }
            }).catch(function () {});
          });
        }, Promise.resolve());
      });
    });
  }

  function keepPages(kept, force) {
    var list = kept.pages.concat(kept.thumbs);
    return Promise.all([getMeta("keptAt"), getMeta("keptList")]).then(function (last) {
      var same = last[1] && last[1].join("\n") === list.join("\n");
      if (!force && same && last[0] && Date.now() - last[0] < KEEP_EVERY_MS) { return; }
      return keepAll(list).then(function () {
        return Promise.all([setMeta("keptAt", Date.now()), setMeta("keptList", list)]);
      });
    });
  }

  // Online: who is here, send what waits, then keep the pages as they are now.
  function connected() {
    return whatToKeep().then(function (kept) {
      return sync().then(function (sent) { return keepPages(kept, sent > 0); });
    }).then(function () {
      document.documentElement.setAttribute("data-offline-kept", String(Date.now())); // for the browser tests
    }).catch(function () { return render(); });
  }

  window.addEventListener("online", function () { render(); connected(); });
  window.addEventListener("offline", render);
  setInterval(function () {
    allItems().then(function (items) { if (waiting(items).length && navigator.onLine) { sync(); } }).catch(function () {});
  }, RETRY_MS);

  render().catch(function () {});
  if (navigator.onLine) { connected(); }
})();
