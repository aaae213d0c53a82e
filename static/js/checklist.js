// The checklist sheet: keyboard navigation between items (never taking a key the focused
// control needs, keys.js), and no typing lost on the way out. The report sheet's entry module.
import { isTyping, openHelp, startHelp } from "./keys.js";

startHelp();

var items = function () { return Array.prototype.slice.call(document.querySelectorAll("[data-item]")); };
var current = function () {
  return document.activeElement && document.activeElement.closest
    ? document.activeElement.closest("[data-item]") : null;
};

function focusItem(step) {
  var list = items();
  if (!list.length) return;
  var index = list.indexOf(current());
  var next = list[Math.min(Math.max(index + step, 0), list.length - 1)];
  if (index < 0) next = list[0];
  next.focus();
  next.scrollIntoView({ block: "center" });
}

function choose(item, key) {
  var input = item.querySelector('input[data-key="' + key + '"]');
  // Inside a disabled fieldset (a submitted sheet) `disabled` is false, but :disabled matches.
  if (!input || input.matches(":disabled")) return;
  input.checked = input.type === "checkbox" ? !input.checked : true;
  // htmx listens for "change"; a scripted check does not fire it by itself.
  input.dispatchEvent(new Event("change", { bubbles: true }));
}

document.addEventListener("keydown", function (event) {
  if (document.querySelector("dialog[open]")) return;  // the keys help has its own keys
  if (event.altKey || event.ctrlKey || event.metaKey) return;
  var here = current();
  if (event.key === "Escape") {
    // Out of a field or an answer group, back to its item: the sheet's keys work again.
    if (here && here !== event.target) here.focus();
    return;
  }
  // Letters and digits type in a field; a select jumps to an option with them.
  if (isTyping(event.target)) return;
  if (event.key === "?") {
    openHelp();
  } else if (event.key === "j" || event.key === "k") {
    focusItem(event.key === "j" ? 1 : -1);
  } else if (/^[1-9]$/.test(event.key) && here) {
    choose(here, event.key);
  } else if ((event.key === "w" || event.key === "n") && here) {
    var field = here.querySelector('[data-field="' + (event.key === "w" ? "location" : "notes") + '"]');
    if (field && !field.matches(":disabled")) field.focus();
  } else if (event.key === "u") {
    var filter = document.getElementById("filter");
    if (filter) window.location.assign(filter.href);
  } else {
    return;
  }
  event.preventDefault();
});

// A change typed within the autosave delay would be lost by a reload or a link click: send it
// with a beacon as the page goes away (the form carries its own CSRF token).
document.addEventListener("input", function (event) {
  var form = event.target.closest && event.target.closest("form[data-autosave]");
  if (form) form.dataset.dirty = "1";
});
document.body.addEventListener("htmx:beforeRequest", function (event) {
  var form = event.detail.elt;
  if (form && form.dataset) delete form.dataset.dirty;
});
window.addEventListener("pagehide", function () {
  document.querySelectorAll("form[data-autosave][data-dirty]").forEach(function (form) {
    navigator.sendBeacon(form.action, new FormData(form));
    delete form.dataset.dirty;
  });
});

// A notes box marked data-fit grows to show all its text: filled from the study's facts
// ("Use as notes", which swaps the item in) and as the author types. Nothing hides behind a
// scroll bar.
function fitNotes(root) {
  var boxes = root.matches && root.matches("textarea[data-fit]")
    ? [root] : root.querySelectorAll("textarea[data-fit]");
  Array.prototype.forEach.call(boxes, function (box) {
    if (!box.getClientRects().length) return;  // not laid out: it has no height to fit yet
    var style = window.getComputedStyle(box);
    var extra = style.boxSizing === "border-box"
      ? parseFloat(style.borderTopWidth) + parseFloat(style.borderBottomWidth)
      : -(parseFloat(style.paddingTop) + parseFloat(style.paddingBottom));
    box.style.height = "auto";  // shrink first, so that deleted lines give their room back
    box.style.height = (box.scrollHeight + extra) + "px";
  });
}
fitNotes(document);
document.body.addEventListener("htmx:load", function (event) { fitNotes(event.detail.elt); });
document.addEventListener("input", function (event) {
  if (event.target.matches && event.target.matches("textarea[data-fit]")) fitNotes(event.target);
});
