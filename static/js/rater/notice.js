// The notice above the questions: answers an earlier visit left unsaved, being saved or saved
// now; kept answers that differ from what was saved since; those the locked study refuses.
import { conflicts, pendingForms } from "./pending.js";
import { isSignedOut } from "./session.js";
import { interpolate, ngettext } from "../i18n.js";

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
    notice.textContent = interpolate(ngettext(
      "%(count)s answer kept in this browser from your last visit differs from what was " +
        "saved since: choose below which to keep.",
      "%(count)s answers kept in this browser from your last visit differ from what was " +
        "saved since: choose below which to keep.",
      conflicts.size), { count: conflicts.size });
    return;
  }
  if (!notice || !restored) return;
  var left = pendingForms().length;
  notice.hidden = false;
  var message;
  if (!left) {
    message = ngettext("%(count)s answer from your last visit is saved now.",
      "%(count)s answers from your last visit are saved now.", restored);
  } else if (isSignedOut()) {
    message = ngettext(
      "%(count)s answer from your last visit was not saved yet; it is saved once you sign in again.",
      "%(count)s answers from your last visit were not saved yet; they are saved once you sign " +
        "in again.",
      restored);
  } else {
    message = ngettext("%(count)s answer from your last visit was not saved yet; saving now…",
      "%(count)s answers from your last visit were not saved yet; saving now…", restored);
  }
  notice.textContent = interpolate(message, { count: restored });
}

export function showRefused(refused) {
  var notice = document.getElementById("pending-notice");
  notice.hidden = false;
  notice.textContent = interpolate(ngettext(
    "%(count)s answer from your last visit could not be saved before the study was locked, " +
      "and cannot be now.",
    "%(count)s answers from your last visit could not be saved before the study was locked, " +
      "and cannot be now.",
    refused), { count: refused });
}
