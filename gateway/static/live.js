// Live dashboard: listen to /live/events and swap the sections a change touches.
// Without JavaScript (or EventSource) the dashboard is the same page, updated by a reload.
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live || !window.EventSource || !window.fetch || !window.DOMParser) {
    return;
  }
  var status = document.getElementById("live-status");
  var pending = {};
  var timer = null;
  var requests = 0;
  var shown = {}; // section -> number of the request whose answer it shows (an older answer never wins)

  function onScreen(name) {
    return document.querySelector('[data-section="' + name + '"]') !== null;
  }

  function want(sections) {
    sections.filter(onScreen).forEach(function (name) { pending[name] = true; });
    // A burst of events (checkout: order, invoice, payment, service) becomes one request.
    if (!timer && Object.keys(pending).length) {
      timer = window.setTimeout(refresh, 150);
    }
  }

  function refresh() {
    timer = null;
    var names = Object.keys(pending);
    var number = (requests += 1);
    pending = {};
    var url = live.dataset.fragment + "?sections=" + encodeURIComponent(names.join(","));
    window.fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok || response.redirected) {
          throw new Error("fragment " + response.status);
        }
        return response.text();
      })
      .then(function (html) { swap(html, number); })
      .catch(function () { /* keep what is shown; a reload shows the current state */ });
  }

  function swap(html, number) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var swapped = 0;
    doc.querySelectorAll("[data-section]").forEach(function (fresh) {
      var name = fresh.dataset.section;
      var old = document.querySelector('[data-section="' + name + '"]');
      if (!old || (shown[name] || 0) > number) {
        return;
      }
      shown[name] = number;
      var hadFocus = old.contains(document.activeElement) && document.activeElement.id;
      old.replaceWith(document.importNode(fresh, true));
      if (hadFocus && document.getElementById(hadFocus)) {
        document.getElementById(hadFocus).focus();
      }
      swapped += 1;
    });
    if (swapped && status) {
      status.textContent = live.dataset.updated;
    }
  }

  function connect() {
    var source = new EventSource(live.dataset.events);
    function sections(message) {
      return JSON.parse(message.data).sections || [];
    }
    source.addEventListener("ready", function (message) {
      // After a reconnect, changes made while the stream was down were missed: fetch what may have changed.
      if (live.dataset.state) {
        want(sections(message));
      }
      live.dataset.state = "listening";
    });
    source.addEventListener("change", function (message) { want(sections(message)); });
    source.addEventListener("resync", function (message) { want(sections(message)); });
    source.onerror = function () {
      live.dataset.state = "reconnecting";
      // CLOSED: logged out, or the gateway is full (204); otherwise the browser retries by itself.
      if (source.readyState === EventSource.CLOSED) {
        window.setTimeout(connect, 30000 + Math.random() * 30000);
      }
    };
  }

  connect();
})();
