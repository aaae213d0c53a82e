// Opening the item: answers an earlier visit left unsaved are restored and sent again, silently
// only when the stored answer is still the one they were given over.
import { formId, questionForms, root, setStatus } from "./forms.js";
import { adoptRetired, entryOf, fieldsOf, forget, scope, showOtherItems } from "./kept.js";
import { applyFields } from "./fill.js";
import { showConflict } from "./conflicts.js";
import { setRestored, showPendingNotice, showRefused } from "./notice.js";
import { conflicts, inflight } from "./pending.js";
import { saveAllPending } from "./queue.js";
import { revisionOf } from "./revisions.js";

function restore() {
  if (!root || !scope) return;
  adoptRetired();
  var restored = 0;
  var refused = 0;
  questionForms().forEach(function (form) {
    var entry = entryOf(form);
    if (!entry || inflight.has(form)) return;  // being sent now: its answer will say
    if (form.querySelector("fieldset:disabled")) {
      // The study was locked meanwhile: the server refuses every change, so say so once.
      refused += 1;
      forget(form);
      return;
    }
    if (entry.fields === fieldsOf(form)) {
      // The page shows it: the server stored it (sent as the page went) but never said so.
      restored += 1;
      forget(form);
      setStatus(form, "ok", "Saved");
      return;
    }
    if ((entry.base || null) !== (revisionOf(formId(form)) || null)) {
      showConflict(form);
      return;
    }
    restored += 1;
    applyFields(form, JSON.parse(entry.fields));
    setStatus(form, "muted", "Saving…");
  });
  setRestored(restored);
  if (restored || conflicts.size) { showPendingNotice(); saveAllPending(); }
  if (refused) showRefused(refused);
  showOtherItems();
}

// After htmx has set up the forms, or a replay would not be sent: htmx, a deferred script
// before this module, sets them up on DOMContentLoaded, in a listener added before this one.
export function startRestore() {
  function afterHtmx() { setTimeout(restore, 0); }
  if (document.readyState === "complete") afterHtmx();
  else document.addEventListener("DOMContentLoaded", afterHtmx);
}
