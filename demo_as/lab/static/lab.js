// Live updates of the lab pages: hand-written, no dependencies, no build step, works offline.
//
// The page marks one element with data-live:
//   data-live="events"  (a client's page): poll data-poll-url?after=N, the lab's JSON list of
//                        journal events after id N; when it is not empty, fetch data-part-url
//                        (the server-rendered parts: diagram, report card, steps) and swap them in.
//   data-live="clients" (/lab): poll the JSON list of clients; when it changed, fetch the
//                        server-rendered clients table and swap it in.
// Swapped parts are elements with an id and a data-part attribute. All HTML comes from this
// server's autoescaping templates; nothing the client sent is ever built into markup here.
(function () {
  "use strict";

  var live = document.querySelector("[data-live]");
  if (!live || !window.fetch || !window.DOMParser) {
    return;
  }
  var mode = live.getAttribute("data-live");
  var pollUrl = live.getAttribute("data-poll-url");
  var partUrl = live.getAttribute("data-part-url");
  var pollMs = parseInt(live.getAttribute("data-poll-ms"), 10) || 1500;
  var after = live.getAttribute("data-after") || "0";
  var lastClients = null;

  function status(text, state) {
    live.textContent = text;
    live.className = "live " + state;
  }

  function clock() {
    return new Date().toLocaleTimeString([], { hour12: false });
  }

  function getText(url) {
    return fetch(url, { credentials: "same-origin", cache: "no-store" }).then(function (r) {
      if (!r.ok) {
        throw new Error(url + " answered " + r.status);
      }
      return r.text();
    });
  }

  // Replace each [data-part] element of the page by the fragment's element of the same id,
  // keeping open the step details the reader had opened.
  function swapParts(html) {
    var open = {};
    var opened = document.querySelectorAll("details[data-key][open]");
    for (var j = 0; j < opened.length; j++) {
      open[opened[j].getAttribute("data-key")] = true;
    }
    var doc = new DOMParser().parseFromString(html, "text/html");
    var closed = doc.querySelectorAll("details[data-key]");
    for (var k = 0; k < closed.length; k++) {
      if (open[closed[k].getAttribute("data-key")]) {
        closed[k].setAttribute("open", "");
      }
    }
    var parts = doc.querySelectorAll("[data-part][id]");
    for (var i = 0; i < parts.length; i++) {
      var current = document.getElementById(parts[i].id);
      if (current) {
        current.replaceWith(document.importNode(parts[i], true));
      }
    }
    var root = doc.querySelector("[data-after]");
    if (root) {
      after = root.getAttribute("data-after");
      live.setAttribute("data-after", after);
    }
  }

  function url(base, params) {
    return base + (base.indexOf("?") < 0 ? "?" : "&") + params;
  }

  function pollEvents() {
    return getText(url(pollUrl, "after=" + encodeURIComponent(after))).then(function (text) {
      var events = JSON.parse(text);
      if (!events.length) {
        return;
      }
      return getText(url(partUrl, "after=" + encodeURIComponent(after))).then(swapParts);
    });
  }

  function pollClients() {
    return getText(pollUrl).then(function (text) {
      if (lastClients !== null && text !== lastClients) {
        lastClients = text;
        return getText(partUrl).then(swapParts);
      }
      lastClients = text;
    });
  }

  function tick() {
    var poll = mode === "events" ? pollEvents : pollClients;
    poll()
      .then(function () {
        status("live · checked " + clock(), "on");
      })
      .catch(function () {
        status("live updates paused: the AS did not answer (" + clock() + ")", "stale");
      })
      .then(function () {
        window.setTimeout(tick, pollMs);
      });
  }

  status("live", "on");
  tick();
})();
