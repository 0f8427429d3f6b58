// A form marked data-confirm asks before it is sent (cancelling a visit on a phone); declined, it
// is not sent and stays usable (registered first, so data-submit-once never sees it).
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);
// A form marked data-submit-once is not sent twice the same way: a double click or a second
// Ctrl+Enter on a slow network must not register a patient or save a record twice. A different
// button ("Register anyway" after Enter) is a different decision and goes through. Buttons are
// not disabled: a disabled button's name and value would not be sent.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!form.hasAttribute("data-submit-once")) return;
  var submitter = event.submitter;
  var how = submitter && submitter.name ? submitter.name + "=" + submitter.value : "(default)";
  if (form.dataset.sentWith === how) { event.preventDefault(); return; }
  form.dataset.sentWith = how;
}, true);
// Coming back to the page (the back button) makes the form usable again.
window.addEventListener("pageshow", function () {
  document.querySelectorAll("form[data-submit-once]").forEach(function (form) { delete form.dataset.sentWith; });
});
// A choice marked data-submit-on-change (the doctor, treatment and day above the slot picker)
// shows its result at once; the form's own button does the same without JavaScript.
document.addEventListener("change", function (event) {
  var input = event.target;
  if (input.form && input.hasAttribute("data-submit-on-change")) input.form.requestSubmit();
});
// A fragment marked data-swap-refusals shows the answer to a refused request (409, 422: the
// message of what to fix) in its place; htmx would otherwise leave it as it was.
document.addEventListener("htmx:beforeSwap", function (event) {
  var status = event.detail.xhr.status;
  if ((status === 409 || status === 422) && event.detail.elt.closest("[data-swap-refusals]")) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
