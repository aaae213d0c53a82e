// Other tabs on the same item: a newer stored answer replaces a stale "Saved", and another tab's
// change shows here as it makes it (through localStorage, before its server has it).
import { formId, note, questionForms, root, setStatus } from "./forms.js";
import { entryOf, fieldsOf, itemPrefix, readEntry, storageKey, tabId } from "./kept.js";
import { applyFields, fieldsFromServer } from "./fill.js";
import { showConflict } from "./conflicts.js";
import { conflicts, inflight } from "./pending.js";
import { revisionOf, setRevision } from "./revisions.js";
import { probe } from "./session.js";
import { gettext } from "../i18n.js";

// The stored answers read back (`body`) against what the page shows; whether any changed.
export function reconcile(body) {
  if (!body) return false;
  var changedAny = false;
  questionForms().forEach(function (form) {
    var id = formId(form);
    var stored = body.answers[id];
    var revision = stored ? stored.revision : undefined;
    if (revision === revisionOf(id) || inflight.has(form)) return;
    var entry = entryOf(form);
    changedAny = true;
    setRevision(id, revision);
    if (conflicts.has(form)) {
      // Still the rater's choice, now between the kept answer and the newest stored one.
      applyFields(form, fieldsFromServer(stored && stored.fields));
      if (entry) { showConflict(form); return; }
      conflicts.delete(form);  // chosen in another tab
      setStatus(form, "ok", stored ? gettext("Saved") : "");
      return;
    }
    if (entry && entry.tab === tabId) {
      setStatus(form, "warn", gettext("Not saved yet."));
      note(form, gettext("Also changed in another tab: the answer shown here is this tab's, " +
        "and is being saved over it."));
      return;
    }
    if (entry) {
      // The other tab's newer change is on its way (the storage event showed it here).
      setStatus(form, "muted", gettext("Saving in another tab…"));
    } else {
      applyFields(form, fieldsFromServer(stored && stored.fields));
      setStatus(form, "ok", stored ? gettext("Saved") : "");
    }
    note(form, gettext("Changed in another tab"));
  });
  return changedAny;
}

function checkOtherTabs() {
  if (!root || document.visibilityState !== "visible") return;
  probe().then(reconcile);
}

// Another tab's change to this item, as it makes it (before its server has it).
function otherTabChanged(event) {
  if (!event.key || event.key.indexOf(itemPrefix) !== 0) return;
  // Gone: the other tab's save was acknowledged; the server has the answer now.
  if (!event.newValue) { probe().then(reconcile); return; }
  questionForms().forEach(function (form) {
    if (storageKey(form) !== event.key) return;
    var entry = readEntry(event.key);
    if (!entry || entry.fields === fieldsOf(form)) return;
    conflicts.delete(form);  // the other tab answered; its answer is the one to save
    applyFields(form, JSON.parse(entry.fields));
    setStatus(form, "muted", gettext("Saving in another tab…"));
    note(form, gettext("Changed in another tab"));
  });
}

export function startOtherTabs() {
  window.addEventListener("focus", checkOtherTabs);
  document.addEventListener("visibilitychange", checkOtherTabs);
  window.addEventListener("storage", otherTabChanged);
}
