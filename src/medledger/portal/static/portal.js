/* medledger portal: progressive behaviour only (every page works without it).
   Loaded from /static (the Content-Security-Policy forbids inline script). */
"use strict";

(function () {
  function span(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var units = [["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];
    var parts = [];
    for (var i = 0; i < units.length && parts.length < 2; i++) {
      var n = Math.floor(seconds / units[i][1]);
      seconds -= n * units[i][1];
      if (n) parts.push(n + " " + units[i][0] + (n === 1 ? "" : "s"));
    }
    return parts.join(" ") || "0 seconds";
  }

  /* live countdowns: counted from the chain time the page was rendered at */
  var loaded = Date.now();
  function tick() {
    var elapsed = (Date.now() - loaded) / 1000;
    document.querySelectorAll("time.countdown[data-remaining]").forEach(function (el) {
      var left = Number(el.getAttribute("data-remaining")) - elapsed;
      el.textContent = left > 0 ? span(left) : "expired";
    });
  }
  tick();
  setInterval(tick, 1000);

  var live = document.getElementById("live");
  function say(text, urgent) {
    if (!live) return;
    live.hidden = !text;
    live.textContent = text || "";
    live.className = "live" + (urgent ? " urgent" : "");
    live.setAttribute("role", urgent ? "alert" : "status");
  }

  function fragment(html) {
    var t = document.createElement("template");
    t.innerHTML = html; /* server-rendered, every value escaped there */
    return t.content;
  }

  /* access log: new entries appear without reload */
  var body = document.getElementById("log-body");
  if (body) {
    var newest = Number(body.getAttribute("data-newest")) || 0;
    var outcome = body.getAttribute("data-outcome") || "all";
    var who = body.getAttribute("data-who") || "";
    var keep = function (m) {
      if (who && m.who !== who) return false;
      if (outcome === "access") return m.access;
      if (outcome === "allowed") return m.access && m.allowed;
      if (outcome === "denied") return !m.allowed;
      return true;
    };
    var poll = function () {
      fetch("/api/log?after=" + newest, { credentials: "same-origin", cache: "no-store" })
        .then(function (r) {
          return r.json().then(function (j) { return { status: r.status, body: j }; });
        })
        .then(function (res) {
          if (res.status === 401) {
            say(res.body.message + " (reload to unlock)", true);
            return;
          }
          if (res.status !== 200) {
            say(res.body.message || "The portal does not answer.", true);
            return;
          }
          var j = res.body;
          var added = 0;
          for (var i = res.body.rows.length - 1; i >= 0; i--) {
            if (!keep(j.meta[i])) continue;
            body.insertBefore(fragment(j.rows[i]), body.firstChild);
            added++;
          }
          newest = Math.max(newest, j.newest);
          body.setAttribute("data-newest", String(newest));
          if (j.chart) {
            var chart = document.getElementById("chart");
            if (chart) { chart.replaceChildren(fragment(j.chart)); }
          }
          say(added ? added + " new log entr" + (added === 1 ? "y" : "ies") : "", false);
        })
        .catch(function () { say("The portal does not answer.", true); });
    };
    setInterval(poll, 2000);
  }
})();
