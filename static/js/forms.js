// A form marked data-submit-once is sent once: a double click or a second Ctrl+Enter on a
// slow network must not register a patient or save a record twice. Buttons are not disabled
// (a disabled button's name and value would not be sent, and "Register anyway" needs them).
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!form.hasAttribute("data-submit-once")) return;
  if (form.dataset.sent) { event.preventDefault(); return; }
  form.dataset.sent = "1";
}, true);
// Coming back to the page (the back button) makes the form usable again.
window.addEventListener("pageshow", function () {
  document.querySelectorAll("form[data-submit-once]").forEach(function (form) { delete form.dataset.sent; });
});
