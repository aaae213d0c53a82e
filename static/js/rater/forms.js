// The question forms of the rater page: finding them, naming them, the status line each shows,
// and sending one (htmx posts a form on "change").

// The page's settings for saving (annotation/_unsaved.html): the rater's opaque scope, the
// study and item, the login and answers addresses. Absent where nothing is kept.
export var root = document.getElementById("unsaved");

export function questionForms() {
  return Array.prototype.slice.call(document.querySelectorAll("form[data-question]"));
}
// The question form an htmx event is about, if any.
export function questionOf(event) {
  var elt = event.detail && event.detail.elt;
  return elt && elt.closest ? elt.closest("form[data-question]") : null;
}
export function formId(form) { return form.id.replace(/^q-/, ""); }
export function questionName(form) {
  var legend = form.querySelector("legend");
  return legend ? legend.textContent.replace(/\s*\*\s*$/, "").trim() : formId(form);
}

// --- what the rater sees
export function setStatus(form, kind, text) {
  var status = form.querySelector(".status");
  if (!status) return;
  var span = document.createElement("span");
  span.className = kind;
  span.textContent = text;
  status.replaceChildren(span);
}
export function note(form, text) {
  var status = form.querySelector(".status");
  if (!status) return;
  var span = document.createElement("span");
  span.className = "warn changed-elsewhere";
  span.textContent = text;
  status.append(" ", span);
}

// Sent by htmx, as if the rater had changed it; a locked study's form is not.
export function send(form) {
  if (form.querySelector("fieldset:disabled")) return;
  htmx.trigger(form, "change");
}
