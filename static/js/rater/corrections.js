// Corrections: the rater edits a response's text into what they would sign off. The box starts
// with the response's text, which is no answer until the rater presses "Accept unchanged": that
// sets the form's "accepted" field, and any typing clears it (an edited text is an answer by
// itself). "Reset to original" puts the response's text back and takes the answer back. Each
// change is sent as a "change" event, so saving (queue.js) keeps and posts it like any answer.
import { gettext } from "../i18n.js";


function parts(form) {
  return {
    box: form.querySelector("[data-correction]"),
    accepted: form.querySelector("[data-correction-accepted]"),
    state: form.querySelector("[data-correction-state]"),
  };
}

// The line beside the buttons, from what the form holds now.
export function showCorrectionState(form) {
  var found = parts(form);
  if (!found.box || !found.state) return;
  var original = found.box.dataset.original || "";
  if (found.accepted.value === "1" && found.box.value === original) {
    found.state.textContent = gettext("Accepted unchanged.");
  } else if (found.box.value !== original && found.box.value.trim()) {
    found.state.textContent = gettext("Edited.");
  } else {
    found.state.textContent = gettext("Not answered yet: edit the text, or accept it unchanged.");
  }
}

// The response's text back in the box, `accepted` or not, saved as any change is.
function restore(form, accepted) {
  var found = parts(form);
  var original = found.box.dataset.original || "";
  if (found.box.value !== original && found.box.value.trim() && !window.confirm(gettext("Throw away your edits to this response?"))) {
    return;
  }
  found.box.value = original;
  found.accepted.value = accepted ? "1" : "";
  showCorrectionState(form);
  found.box.dispatchEvent(new Event("change", { bubbles: true }));
}

function clicked(event) {
  var target = event.target;
  var form = target.closest && target.closest("[data-question]");
  if (!form || !form.querySelector("[data-correction]")) return;
  if (target.matches("[data-correction-accept]")) restore(form, true);
  else if (target.matches("[data-correction-reset]")) restore(form, false);
}

// Typing makes the text the rater's own: no longer "accepted unchanged".
function typed(event) {
  if (!event.target.matches || !event.target.matches("[data-correction]")) return;
  var form = event.target.closest("[data-question]");
  parts(form).accepted.value = "";
  showCorrectionState(form);
}

export function startCorrections() {
  document.addEventListener("click", clicked);
  document.addEventListener("input", typed, true);
}
