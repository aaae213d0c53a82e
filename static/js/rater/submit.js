// Submitting the item: pending answers are saved first, and never are answers submitted that
// this tab did not show.
import { csrfToken } from "./csrf.js";
import { questionName, root } from "./forms.js";
import { takeElapsed } from "./elapsed.js";
import { reconcile } from "./other-tabs.js";
import { conflicts, pendingForms } from "./pending.js";
import { saveAllPending } from "./queue.js";
import { seenRevisions } from "./revisions.js";
import { isSignedOut, probe } from "./session.js";

var submitForm = document.getElementById("submit");
var submitting = false;

function waitForSaves(deadline) {
  if (!pendingForms().length || isSignedOut() || Date.now() > deadline) return Promise.resolve();
  return new Promise(function (resolve) { setTimeout(resolve, 200); }).then(function () {
    return waitForSaves(deadline);
  });
}
function sayAtSubmit(text) {
  var line = submitForm.querySelector("[data-submit-status]");
  if (!line) return;
  line.textContent = text;
  line.hidden = !text;
}

function submit(event) {
  if (!root) {
    submitForm.querySelector("input[name=elapsed_ms]").value = takeElapsed();
    return;
  }
  event.preventDefault();
  if (submitting) return;
  if (conflicts.size) {
    sayAtSubmit("Not submitted: choose first whether to use the answer kept in this " +
      "browser for " + Array.from(conflicts).map(questionName).join("; ") + ".");
    return;
  }
  submitting = true;
  sayAtSubmit("");
  saveAllPending();
  waitForSaves(Date.now() + 5000).then(function () {
    var waiting = pendingForms();
    var left = waiting.length;
    if (isSignedOut()) {
      throw new Error("You are signed out: sign in again to save your answers, then submit.");
    }
    if (left) {
      throw new Error("Not saved yet, so the item was not submitted: " +
        waiting.map(questionName).join("; ") + ". Try again in a moment.");
    }
    return probe();
  }).then(function (body) {
    if (!body) {
      throw new Error("The server could not be reached, so the item was not submitted. " +
        "Try again in a moment.");
    }
    if (reconcile(body)) {
      throw new Error("Answers were changed in another tab; they are shown now. " +
        "Check them and submit again.");
    }
    // The server refuses the submit if its answers differ from these (another tab's change
    // since this check); a page rendered without revisions leaves the check out.
    var seen = seenRevisions();
    if (seen !== null) submitForm.querySelector("input[name=seen]").value = seen;
    submitForm.querySelector("input[name=elapsed_ms]").value = takeElapsed();
    var token = csrfToken();
    if (token) submitForm.querySelector("input[name=csrfmiddlewaretoken]").value = token;
    submitForm.submit();  // no submit event: this handler does not run again
  }).catch(function (error) {
    submitting = false;
    sayAtSubmit(error.message);
  });
}

export function startSubmit() {
  if (submitForm) submitForm.addEventListener("submit", submit);
}
