// The revision of each stored answer this page shows: from the page, then from each save the
// server acknowledged and each answer read back from it. A kept answer records the revision it
// replaces, so that a later visit tells whether the stored answer changed meanwhile.
var revisionsScript = document.getElementById("answer-revisions");
// form id -> revision; null when the page was rendered without revisions
var baseline = revisionsScript ? JSON.parse(revisionsScript.textContent) : null;
var known = baseline || {};

export function revisionOf(id) { return known[id]; }
export function setRevision(id, revision) { known[id] = revision; }

// What this tab showed, for the submit: the server refuses it if its answers differ. A page
// rendered without revisions leaves the check out (null).
export function seenRevisions() {
  return baseline ? JSON.stringify(known) : null;
}
