// The notice above the questions: answers an earlier visit left unsaved, being saved or saved
// now; kept answers that differ from what was saved since; those the locked study refuses.
import { conflicts, pendingForms } from "./pending.js";
import { isSignedOut } from "./session.js";

var restored = 0;  // answers from an earlier visit, being replayed

export function setRestored(count) { restored = count; }

export function showPendingNotice() {
  var notice = document.getElementById("pending-notice");
  if (notice && notice.dataset.conflicts && !conflicts.size) {
    delete notice.dataset.conflicts;
    notice.hidden = !restored;
  }
  if (notice && !restored && conflicts.size) {
    notice.hidden = false;
    notice.dataset.conflicts = "1";
    notice.textContent = conflicts.size + (conflicts.size === 1 ? " answer" : " answers") +
      " kept in this browser from your last visit " + (conflicts.size === 1 ? "differs" : "differ") +
      " from what was saved since: choose below which to keep.";
    return;
  }
  if (!notice || !restored) return;
  var left = pendingForms().length;
  notice.hidden = false;
  notice.textContent = left
    ? restored + (restored === 1 ? " answer" : " answers") + " from your last visit " +
      (restored === 1 ? "was" : "were") + " not saved yet; " +
      (isSignedOut() ? "they are saved once you sign in again." : "saving now…")
    : restored + (restored === 1 ? " answer" : " answers") + " from your last visit " +
      (restored === 1 ? "is" : "are") + " saved now.";
}

export function showRefused(refused) {
  var notice = document.getElementById("pending-notice");
  notice.hidden = false;
  notice.textContent = refused + (refused === 1 ? " answer" : " answers") +
    " from your last visit could not be saved before the study was locked, and cannot be now.";
}
