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
import { gettext, interpolate } from "../i18n.js";

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

// Locking an answer (assisted reading) cannot be undone, so the first press asks, inline and
// by keyboard: "Yes, lock it" (focused) submits, "Keep editing" or Escape goes back with the
// answer as typed. Nothing is saved or sent until the reader says yes.
var confirmed = false;
function lockConfirm() {
  return submitForm.hasAttribute("data-confirm-lock") &&
    submitForm.querySelector("[data-lock-confirm]");
}
function askToLock(box) {
  box.hidden = false;
  box.querySelector("[data-lock-yes]").focus();
}
function keepEditing(box) {
  box.hidden = true;
  var button = submitForm.querySelector("button[type=submit]");
  if (button) button.focus();
}
function startLockConfirm() {
  var box = lockConfirm();
  if (!box) return;
  box.querySelector("[data-lock-yes]").addEventListener("click", function () {
    confirmed = true;
    box.hidden = true;
    submitForm.requestSubmit();
  });
  box.querySelector("[data-lock-no]").addEventListener("click", function () {
    keepEditing(box);
  });
  box.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    event.preventDefault();
    event.stopPropagation();
    keepEditing(box);
  });
}

function submit(event) {
  var box = lockConfirm();
  if (box && !confirmed) {
    event.preventDefault();
    askToLock(box);
    return;
  }
  confirmed = false;  // asked again at the next press, if this one does not go through
  if (!root) {
    submitForm.querySelector("input[name=elapsed_ms]").value = takeElapsed();
    return;
  }
  event.preventDefault();
  if (submitting) return;
  if (conflicts.size) {
    sayAtSubmit(interpolate(gettext("Not submitted: choose first whether to use the answer " +
      "kept in this browser for %(questions)s."),
    { questions: Array.from(conflicts).map(questionName).join("; ") }));
    return;
  }
  submitting = true;
  sayAtSubmit("");
  saveAllPending();
  waitForSaves(Date.now() + 5000).then(function () {
    var waiting = pendingForms();
    var left = waiting.length;
    if (isSignedOut()) {
      throw new Error(
        gettext("You are signed out: sign in again to save your answers, then submit."));
    }
    if (left) {
      throw new Error(interpolate(gettext("Not saved yet, so the item was not submitted: " +
        "%(questions)s. Try again in a moment."), { questions: waiting.map(questionName).join("; ") }));
    }
    return probe();
  }).then(function (body) {
    if (!body) {
      throw new Error(gettext("The server could not be reached, so the item was not " +
        "submitted. Try again in a moment."));
    }
    if (reconcile(body)) {
      throw new Error(gettext("Answers were changed in another tab; they are shown now. " +
        "Check them and submit again."));
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
  if (!submitForm) return;
  submitForm.addEventListener("submit", submit);
  startLockConfirm();
}
