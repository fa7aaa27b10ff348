// The offline app's service worker (issue 15), served from /sw.js so that its scope is the
// whole site. It keeps a village's inbox, the records in it with their evidence
// thumbnails and the days-in-the-village forms, as last seen online; any other page asked
// for without a connection gets the short "needs a connection" page. It never touches a
// POST: decisions taken offline are queued by static/js/offline.js and sent from the page.
// Everything it keeps goes at logout (Clear-Site-Data, and offline.js clears it too).
"use strict";

var VERSION = "__VERSION__";
var STATIC_CACHE = "registry-static-" + VERSION;
var PAGES_CACHE = "registry-pages"; // also written by offline.js
var OFFLINE_PAGE = "/offline";
var SLOW_MS = 8000;
var SHELL = ["__SHELL__"];
// The pages kept for use offline (the path, any query): network first, the kept copy
// when the network fails.
var KEPT = [
  /^\/$/,
  /^\/records\/inbox$/,
  /^\/records\/\d+$/,
  /^\/records\/\d+\/evidence\/\d+\/thumb$/,
  /^\/duty\/postings$/,
  /^\/duty\/posting\/\d+$/,
  /^\/duty\/posting\/\d+\/new$/
];

self.addEventListener("install", function (event) {
  // one by one, each allowed to fail: on a weak signal the worker still installs, and an
  // asset it could not fetch now is kept the next time the page loads it
  event.waitUntil(
    caches.open(STATIC_CACHE).then(function (cache) {
      return Promise.all(SHELL.map(function (url) { return cache.add(url).catch(function () { return null; }); }));
    }).then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (name) {
        return name.indexOf("registry-static-") === 0 && name !== STATIC_CACHE;
      }).map(function (name) { return caches.delete(name); }));
    }).then(function () { return self.clients.claim(); })
  );
});

function kept(path) {
  for (var i = 0; i < KEPT.length; i++) {
    if (KEPT[i].test(path)) { return true; }
  }
  return false;
}

function keepable(response) {
  // a page of the user's own (not the login page a lapsed session is sent to, not an error)
  return response && response.ok && response.type === "basic" && !response.redirected;
}

function offlinePage() {
  return caches.match(OFFLINE_PAGE).then(function (found) {
    return found || new Response("<!doctype html><meta charset=utf-8><title>需要网络连接</title>" +
      "<p>当前没有网络，这个页面需要联网才能打开。</p>", {status: 503, headers: {"Content-Type": "text/html; charset=utf-8"}});
  });
}

// Network first; the kept copy when the network fails, or when it has not answered within
// SLOW_MS on a weak signal (the network's answer, when it comes, is still kept for next time).
function networkThenKept(request) {
  function kept() {
    return caches.open(PAGES_CACHE).then(function (cache) { return cache.match(request, {ignoreVary: true}); });
  }
  var network = fetch(request).then(function (response) {
    if (keepable(response)) {
      var copy = response.clone();
      caches.open(PAGES_CACHE).then(function (cache) { return cache.put(request, copy); });
    }
    return response;
  });
  return new Promise(function (resolve) {
    var settled = false;
    function answer(response) {
      if (!settled) { settled = true; resolve(response); }
    }
    var timer = setTimeout(function () {
      kept().then(function (found) { if (found) { answer(found); } });
    }, SLOW_MS);
    network.then(function (response) {
      clearTimeout(timer);
      answer(response);
    }, function () {
      clearTimeout(timer);
      kept().then(function (found) {
        answer(found || (request.mode === "navigate" ? offlinePage() : Response.error()));
      });
    });
  });
}

function networkThenShell(request) {
  return fetch(request).then(function (response) {
    if (keepable(response)) {
      var copy = response.clone();
      caches.open(STATIC_CACHE).then(function (cache) { return cache.put(request, copy); });
    }
    return response;
  }, function () {
    return caches.open(STATIC_CACHE).then(function (cache) {
      return cache.match(request, {ignoreSearch: true});
    }).then(function (found) { return found || Response.error(); });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") { return; }
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }
  if (kept(url.pathname)) {
    event.respondWith(networkThenKept(request));
  } else if (request.mode === "navigate") {
    event.respondWith(fetch(request).catch(offlinePage));
  } else if (SHELL.indexOf(url.pathname) !== -1) {
    event.respondWith(networkThenShell(request));
  }
});
