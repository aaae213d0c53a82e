// Spans marked in the response text: the selection's character offsets in the response text
// (rendered with white-space: pre-wrap, so the DOM text is exactly the stored text), kept in the
// form's hidden field as JSON and saved like any other answer, and highlighted in the text.
import { gettext } from "../i18n.js";
function spansOf(form) {
  return Array.prototype.map.call(form.querySelectorAll("[data-span-list] li"), function (li) {
    return {
      start: Number(li.dataset.start), end: Number(li.dataset.end),
      category: li.dataset.category, severity: li.dataset.severity
    };
  });
}
function saveSpans(form) {
  var none = form.querySelector("[data-none]");
  if (none) none.checked = false;  // a marked span is an error found
  form.querySelector("[data-spans]").value = JSON.stringify(spansOf(form));
  highlightSpans();
  form.dispatchEvent(new Event("change", { bubbles: true }));
}

// A category's or severity's label as its list on the page shows it (in the rater's language).
function optionLabel(selector, value) {
  var options = Array.from(document.querySelectorAll(selector + " option"));
  var found = options.find(function (option) { return option.value === value; });
  return found ? found.textContent : value;
}

// The marked spans shown in the response text itself, as <mark>s around text nodes: the
// text content stays exactly the stored text, so offsets measured later still fit. Spans of
// every span question on the page, overlapping ones merged into one mark per stretch.
export function highlightSpans() {
  var container = document.getElementById("output-text");
  if (!container) return;
  var text = container.textContent;
  var marked = Array.prototype.slice.call(document.querySelectorAll("[data-span-list] li"));
  var cuts = [0, text.length];
  marked.forEach(function (li) { cuts.push(Number(li.dataset.start), Number(li.dataset.end)); });
  cuts = cuts.filter(function (at) { return at >= 0 && at <= text.length; })
    .sort(function (a, b) { return a - b; })
    .filter(function (at, i, all) { return i === 0 || at !== all[i - 1]; });
  var pieces = [];
  for (var i = 0; i + 1 < cuts.length; i++) {
    var from = cuts[i], to = cuts[i + 1];
    var covering = marked.filter(function (li) {
      return Number(li.dataset.start) <= from && Number(li.dataset.end) >= to;
    });
    var piece = document.createTextNode(text.slice(from, to));  // untrusted: a text node
    if (covering.length) {
      var mark = document.createElement("mark");
      mark.className = "span-mark " + covering[0].dataset.severity;
      mark.title = covering.map(function (li) {
        return optionLabel("[data-span-category]", li.dataset.category) + " · " +
          optionLabel("[data-span-severity]", li.dataset.severity);
      }).join("; ");
      mark.append(piece);
      piece = mark;
    }
    pieces.push(piece);
  }
  container.replaceChildren.apply(container, pieces);
}
function selectionOffsets(container) {
  var selection = window.getSelection();
  if (!selection.rangeCount || selection.isCollapsed) return null;
  var range = selection.getRangeAt(0);
  if (!container.contains(range.startContainer) || !container.contains(range.endContainer)) {
    return null;
  }
  var before = document.createRange();
  before.selectNodeContents(container);
  before.setEnd(range.startContainer, range.startOffset);
  var start = before.toString().length;
  return { start: start, end: start + range.toString().length, quote: range.toString() };
}

export function startSpans() {
  highlightSpans();
  // A list rebuilt elsewhere (an answer restored, or changed in another tab) is shown too.
  var watcher = new MutationObserver(highlightSpans);
  document.querySelectorAll("[data-span-list]").forEach(function (list) {
    watcher.observe(list, { childList: true });
  });
  document.addEventListener("click", markOrRemove);
}

// The Mark button takes the selected words; a span's Remove button takes it away.
function markOrRemove(event) {
  var form = event.target.closest && event.target.closest("[data-question]");
  if (!form) return;
  if (event.target.matches("[data-span-remove]")) {
    event.target.closest("li").remove();
    saveSpans(form);
  } else if (event.target.matches("[data-span-mark]")) {
    var found = selectionOffsets(document.getElementById("output-text"));
    var status = form.querySelector(".status");
    if (!found) {
      var error = document.createElement("span");
      error.className = "error";
      error.textContent = gettext("First select some words in the response.");
      status.replaceChildren(error);
      return;
    }
    var category = form.querySelector("[data-span-category]");
    var severities = form.querySelector("[data-span-severity]");
    var severity = severities.value;
    var li = document.createElement("li");
    li.dataset.start = found.start;
    li.dataset.end = found.end;
    li.dataset.category = category.value;
    li.dataset.severity = severity;
    var quote = document.createElement("span");
    quote.className = "quote";
    quote.textContent = found.quote;  // untrusted text: never innerHTML
    li.append("“", quote, "” · " + category.selectedOptions[0].textContent + " · " + severities.selectedOptions[0].textContent + " ");
    var remove = document.createElement("button");
    remove.type = "button";
    remove.className = "link";
    remove.dataset.spanRemove = "";
    remove.textContent = gettext("Remove");
    li.append(remove);
    form.querySelector("[data-span-list]").append(li);
    window.getSelection().removeAllRanges();
    saveSpans(form);
  }
}
