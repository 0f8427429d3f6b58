// Warns a minute before an idle session ends, and ends it on screen when the server would.
// Only what the user does renews the timer: this script's own clock check never calls the server.
(function () {
  const cfg = window.idleSession;
  if (!cfg) return;
  const modal = document.getElementById("idle-warning");
  const seconds = document.getElementById("idle-seconds");
  // The server's clock and ours may differ: count the seconds it gave us from our own now.
  let deadline = Date.now() + cfg.secondsLeft * 1000;

  function renew(secondsLeft) {
    deadline = Date.now() + secondsLeft * 1000;
    modal.classList.remove("d-block");
  }

  function tick() {
    const left = Math.round((deadline - Date.now()) / 1000);
    if (left <= 0) {
      window.location.href = cfg.loginUrl + "?next=" + encodeURIComponent(window.location.pathname);
      return;
    }
    if (left <= 60) {
      seconds.textContent = left;
      if (!modal.classList.contains("d-block")) {
        modal.classList.add("d-block");
        document.getElementById("idle-stay").focus();
      }
    }
  }

  document.getElementById("idle-stay").addEventListener("click", function () {
    fetch(cfg.keepaliveUrl, {method: "POST", headers: {"X-CSRFToken": cfg.csrfToken}, credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r); })
      .then(function (body) { renew(body.seconds_left); })
      .catch(function () { window.location.href = cfg.loginUrl; });
  });

  // Requests the user started through htmx renew the session on the server: mirror that here.
  document.body.addEventListener("htmx:afterRequest", function (event) {
    const headers = event.detail.requestConfig && event.detail.requestConfig.headers || {};
    if (!headers["X-Background"]) deadline = Date.now() + cfg.idleMinutes * 60 * 1000;
  });

  setInterval(tick, 1000);
})();
