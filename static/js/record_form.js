// The record form: prescription lines added, removed and repeated from the last prescription,
// and the draft kept as the doctor types (htmx posts the form to the draft URL; see the
// #draft-status element). Every control is a real button: the keyboard reaches all of them.
(function () {
  const form = document.getElementById("record-form");
  if (!form) return;
  const lines = document.getElementById("prescription-lines");
  const template = document.getElementById("line-template");
  const noLines = document.getElementById("no-lines");
  const announce = document.getElementById("lines-announce");
  const draftStatus = document.getElementById("draft-status");
  const FIELDS = ["medicine", "strength", "dose", "frequency", "duration", "instructions"];

  function changed() {
    noLines.hidden = lines.querySelector(".prescription-line") !== null;
    // What htmx listens to for the draft: a removed or repeated line is typing too.
    form.dispatchEvent(new Event("input", {bubbles: true}));
  }

  function addLine(values) {
    const row = template.content.firstElementChild.cloneNode(true);
    FIELDS.forEach(function (name) {
      row.querySelector('[name="line-' + name + '"]').value = (values && values[name]) || "";
    });
    lines.appendChild(row);
    return row;
  }

  function isBlank(row) {
    return Array.from(row.querySelectorAll("input")).every(function (input) { return !input.value.trim(); });
  }

  document.getElementById("line-add").addEventListener("click", function () {
    const row = addLine();
    row.querySelector("input").focus();
    changed();
  });

  lines.addEventListener("click", function (event) {
    const button = event.target.closest(".line-remove");
    if (!button) return;
    const row = button.closest(".prescription-line");
    // Keep the keyboard where it was: on the next line's button, else on "Add line".
    const next = row.nextElementSibling || row.previousElementSibling;
    row.remove();
    (next ? next.querySelector(".line-remove") : document.getElementById("line-add")).focus();
    announce.textContent = button.dataset.removed || "";
    changed();
  });

  const repeat = document.getElementById("repeat-prescription");
  const last = document.getElementById("last-prescription");
  if (repeat && last) {
    repeat.addEventListener("click", function () {
      lines.querySelectorAll(".prescription-line").forEach(function (row) { if (isBlank(row)) row.remove(); });
      // A medicine already on the form is not added again: pressing Repeat twice must not
      // double the prescription.
      const present = new Set(Array.from(lines.querySelectorAll('[name="line-medicine"]')).map(function (input) {
        return input.value.trim().toLowerCase();
      }));
      const added = JSON.parse(last.textContent).filter(function (line) {
        return !present.has((line.medicine || "").trim().toLowerCase());
      }).map(addLine);
      if (added.length) added[0].querySelector("input").focus();
      announce.textContent = repeat.dataset.done || "";
      changed();
    });
  }

  // Ctrl+Enter (Cmd+Enter) sends the form from any field, a text area included.
  form.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  // Once the form is being sent, a draft arriving late would bring back what was just saved.
  let sending = false;
  form.addEventListener("submit", function () { sending = true; });
  if (draftStatus) {
    draftStatus.addEventListener("htmx:confirm", function (event) { if (sending) event.preventDefault(); });
    // A draft too long to keep answers 422 with a message: show it.
    draftStatus.addEventListener("htmx:beforeSwap", function (event) {
      if (event.detail.xhr.status === 422) { event.detail.shouldSwap = true; event.detail.isError = false; }
    });
  }
})();
