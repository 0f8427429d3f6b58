// Warns a minute before an idle session ends, and shows the sign-in page once the server has
// ended it. Typing, clicking and touching count as activity (a long form is not lost to the
// timer); the page's own polling does not.
(function () {
  const cfg = window.idleSession;
  if (!cfg) return;
  const modal = document.getElementById("idle-warning");
  const seconds = document.getElementById("idle-seconds");
  const stay = document.getElementById("idle-stay");
  const WARN_SECONDS = 60;
  const KEEPALIVE_EVERY_MS = 60 * 1000;
  // The server's clock and ours may differ: count the seconds it gave us from our own now.
  let deadline = Date.now() + cfg.secondsLeft * 1000;
  let lastKeepalive = Date.now();
  let checking = false;

  function renew(secondsLeft) {
    deadline = Date.now() + secondsLeft * 1000;
    modal.classList.remove("d-block");
  }

  function signedOut() {
    window.location.href = cfg.loginUrl + "?next=" + encodeURIComponent(window.location.pathname);
  }

  function ask(url, options) {
    return fetch(url, Object.assign({credentials: "same-origin"}, options)).then(function (r) {
      if (r.status === 401) { signedOut(); return Promise.reject(r); }
      return r.ok ? r.json() : Promise.reject(r);
    });
  }

  function keepalive() {
    lastKeepalive = Date.now();
    // A network blip or a server error is no reason to lose the page: the next tick retries.
    return ask(cfg.keepaliveUrl, {method: "POST", headers: {"X-CSRFToken": cfg.csrfToken}})
      .then(function (body) { renew(body.seconds_left); })
      .catch(function () {});
  }

  function deadlineReached() {
    // Another tab may have renewed the session: ask, without renewing it by asking.
    checking = true;
    ask(cfg.statusUrl, {headers: {"X-Background": "1"}})
      .then(function (body) { if (body.seconds_left > 0) renew(body.seconds_left); else signedOut(); })
      .catch(function () {})
      .finally(function () { checking = false; });
  }

  function tick() {
    const left = Math.ceil((deadline - Date.now()) / 1000);
    if (left <= -2) {
      // A moment after the server's deadline, so that the answer is the server's.
      if (!checking) deadlineReached();
      return;
    }
    if (left <= WARN_SECONDS) {
      seconds.textContent = Math.max(left, 0);
      if (!modal.classList.contains("d-block")) {
        modal.classList.add("d-block");
        // Move the keyboard to the button, unless the user is typing into a field.
        const active = document.activeElement;
        if (!active || !active.matches("input, textarea, select")) stay.focus();
      }
    }
  }

  function onUserActivity() {
    // The user is here: renew on the server now and then, not on every key.
    if (Date.now() - lastKeepalive > KEEPALIVE_EVERY_MS || modal.classList.contains("d-block")) keepalive();
  }

  stay.addEventListener("click", keepalive);
  ["keydown", "input", "pointerdown"].forEach(function (name) {
    document.addEventListener(name, onUserActivity, {passive: true});
  });

  // Requests the user started through htmx renew the session on the server: mirror that here.
  document.body.addEventListener("htmx:afterRequest", function (event) {
    const headers = (event.detail.requestConfig && event.detail.requestConfig.headers) || {};
    if (!headers["X-Background"]) deadline = Date.now() + cfg.idleMinutes * 60 * 1000;
  });

  setInterval(tick, 1000);
})();
