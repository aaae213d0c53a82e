// What the rater page keeps in localStorage: every answer the server has not acknowledged, only
// what the form posts (never anything about sources), under the signed-in rater's opaque name,
// per study, item and question. See docs/architecture.md, "Unsaved answers in the browser".
import { root } from "./forms.js";
import { gettext } from "../i18n.js";

var study = root ? root.dataset.study : "";
var item = root ? root.dataset.item : "";
var PREFIX = "evalapp.pending/";
// Named by the signed-in rater (an opaque value from the server): another user of this
// browser never sees, replays or is pointed to them.
export var scope = root ? root.dataset.scope : "";
var studyPrefix = PREFIX + scope + "/" + study + "/";
export var itemPrefix = studyPrefix + item + "/";
// Told apart from other tabs on the same item: a pending entry this tab wrote is its own.
export var tabId = Math.random().toString(36).slice(2);

// --- what is kept in localStorage: only what the form posts, per study, item and question
export function storageKey(form) {
  var about = form.querySelector("input[name=about]");
  return itemPrefix + form.querySelector("input[name=question]").value +
    (about ? "/" + about.value : "");
}
export function fieldsOf(form) {
  var fields = [];
  new FormData(form).forEach(function (value, name) {
    if (name !== "csrfmiddlewaretoken") fields.push([name, String(value)]);
  });
  return JSON.stringify(fields);
}
export function readEntry(key) {
  try { return JSON.parse(localStorage.getItem(key)); } catch (e) { return null; }
}
export function entryOf(form) { return root && scope ? readEntry(storageKey(form)) : null; }
// `base`: the revision of the stored answer the form's answer replaces.
export function keep(form, base) {
  if (!root || !scope) return;
  var entry = {
    fields: fieldsOf(form), label: root.dataset.itemLabel, tab: tabId, at: Date.now(), base: base
  };
  try { localStorage.setItem(storageKey(form), JSON.stringify(entry)); } catch (e) { /* full */ }
}
// Only the answer the server acknowledged leaves: a newer one this tab typed meanwhile stays,
// now based on the acknowledged revision.
export function drop(form, fields, revision) {
  var entry = entryOf(form);
  if (entry && entry.fields === fields) {
    localStorage.removeItem(storageKey(form));
  } else if (entry && revision && entry.tab === tabId) {
    entry.base = revision;
    try { localStorage.setItem(storageKey(form), JSON.stringify(entry)); } catch (e) { /* full */ }
  }
}
// The kept answer is given up: shown as stored, chosen against, or refused for good.
export function forget(form) { localStorage.removeItem(storageKey(form)); }

// Answers kept under the name this rater had before SECRET_KEY was rotated are theirs.
export function adoptRetired() {
  (root.dataset.retiredScopes || "").split(" ").filter(Boolean).forEach(function (old) {
    var oldPrefix = PREFIX + old + "/";
    var keys = [];
    for (var i = 0; i < localStorage.length; i++) {
      var key = localStorage.key(i);
      if (key && key.indexOf(oldPrefix) === 0) keys.push(key);
    }
    keys.forEach(function (key) {
      var mine = PREFIX + scope + "/" + key.slice(oldPrefix.length);
      if (localStorage.getItem(mine) === null) localStorage.setItem(mine, localStorage.getItem(key));
      localStorage.removeItem(key);
    });
  });
}
// Answers kept for other items of this study: the notice links to them.
export function showOtherItems() {
  var notice = document.getElementById("other-items");
  var items = {};
  for (var i = 0; i < localStorage.length; i++) {
    var key = localStorage.key(i);
    if (key.indexOf(studyPrefix) !== 0 || key.indexOf(itemPrefix) === 0) continue;
    var token = key.slice(studyPrefix.length).split("/")[0];
    var entry = readEntry(key);
    items[token] = (entry && entry.label) || gettext("another item");
  }
  var tokens = Object.keys(items);
  if (!notice || !tokens.length) return;
  var links = notice.querySelector("[data-links]");
  tokens.forEach(function (token, index) {
    var link = document.createElement("a");
    link.href = window.location.pathname.replace("/" + item + "/", "/" + token + "/");
    link.textContent = items[token];
    if (index) links.append(", ");
    links.append(link);
  });
  notice.hidden = false;
}

