// A kept answer given over a stored one that has changed since (in another browser, say): the
// page shows the stored one, and the rater chooses which to keep. Until then the kept answer is
// neither sent nor lost, and the item is not submitted.
import { formId, send, setStatus } from "./forms.js";
import { entryOf, forget } from "./kept.js";
import { applyFields } from "./fill.js";
import { showPendingNotice } from "./notice.js";
import { conflicts } from "./pending.js";
import { revisionOf } from "./revisions.js";
import { gettext } from "../i18n.js";

export function showConflict(form) {
  conflicts.add(form);
  setStatus(form, "warn", gettext("An answer kept in this browser from an earlier visit " +
    "differs from this one, which was saved since."));
  var use = document.createElement("button");
  use.type = "button";
  use.className = "link";
  use.dataset.keptUse = "";
  use.textContent = gettext("Use the kept answer");
  var discard = document.createElement("button");
  discard.type = "button";
  discard.className = "link";
  discard.dataset.keptDiscard = "";
  discard.textContent = gettext("Keep this one");
  var status = form.querySelector(".status");
  if (status) status.append(" ", use, " · ", discard);
}

export function startConflictChoice() {
  document.addEventListener("click", function (event) {
    var use = event.target.closest("[data-kept-use]");
    var discard = event.target.closest("[data-kept-discard]");
    var form = (use || discard) && (use || discard).closest("form[data-question]");
    if (!form || !conflicts.has(form)) return;
    conflicts.delete(form);
    var entry = entryOf(form);
    if (discard || !entry) {
      forget(form);
      setStatus(form, "ok", revisionOf(formId(form)) ? gettext("Saved") : "");
    } else {
      applyFields(form, JSON.parse(entry.fields));
      setStatus(form, "muted", gettext("Saving…"));
      send(form);
    }
    showPendingNotice();
  });
}
