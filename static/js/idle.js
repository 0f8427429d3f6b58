// Warns a minute before an idle session ends, and shows the sign-in page once the server has
// ended it. Typing and clicking count as activity (a long form is not lost to the timer); the
// page's own polling does not.
(function () {
  const cfg = window.idleSession;
  if (!cfg) return;
  const modal = document.getElementById("idle-warning");
  const seconds = document.getElementById("idle-seconds");
  const WARN_SECONDS = 60;
  const KEEPALIVE_EVERY_MS = 60 * 1000;
  // The server's clock and ours may differ: count the seconds it gave us from our own now.
  let deadline = Date.now() + cfg.secondsLeft * 1000;
  let lastKeepalive = Date.now();

  function renew(secondsLeft) {
    deadline = Date.now() + secondsLeft * 1000;
    modal.classList.remove("d-block");
  }

  function keepalive() {
    lastKeepalive = Date.now();
    return fetch(cfg.keepaliveUrl, {
      method: "POST",
      headers: {"X-CSRFToken": cfg.csrfToken},
      credentials: "same-origin",
    })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r); })
      .then(function (body) { renew(body.seconds_left); })
      .catch(function () { window.location.href = cfg.loginUrl; });
  }

  function tick() {
    const left = Math.ceil((deadline - Date.now()) / 1000);
    if (left <= -2) {
      // A moment after the server's deadline, so that this visit finds the session ended.
      window.location.href = cfg.loginUrl + "?next=" + encodeURIComponent(window.location.pathname);
      return;
    }
    if (left <= WARN_SECONDS) {
      seconds.textContent = Math.max(left, 0);
      modal.classList.add("d-block");
    }
  }

  function onUserActivity() {
    // The user is here: renew on the server now and then, not on every key.
    if (Date.now() - lastKeepalive > KEEPALIVE_EVERY_MS || modal.classList.contains("d-block")) keepalive();
  }

  document.getElementById("idle-stay").addEventListener("click", keepalive);
  document.addEventListener("keydown", onUserActivity);
  document.addEventListener("input", onUserActivity);

  // Requests the user started through htmx renew the session on the server: mirror that here.
  document.body.addEventListener("htmx:afterRequest", function (event) {
    const headers = (event.detail.requestConfig && event.detail.requestConfig.headers) || {};
    if (!headers["X-Background"]) deadline = Date.now() + cfg.idleMinutes * 60 * 1000;
  });

  setInterval(tick, 1000);
})();
