// How the answer controls behave before htmx saves them: a rank belongs to one response,
// "not applicable" and "none found" exclude the other answers, and spans are marked in the
// response text and highlighted there.
(function () {
  "use strict";
  // A rank belongs to one response: giving it to another takes it away from the first.
  // Capturing, so the form is consistent before htmx serialises it on the same event.
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.closest || !input.closest("[data-ranking]") || !input.checked) return;
    input.closest("[data-ranking]").querySelectorAll('input[value="' + input.value + '"]')
      .forEach(function (other) { if (other !== input) other.checked = false; });
  }, true);

  // "Not applicable" excludes every other answer to its question, and the other way round.
  function keepNotApplicableExclusive(event) {
    var question = event.target.closest && event.target.closest("[data-question]");
    if (!question) return;
    var na = question.querySelector("[data-na]");
    if (!na) return;
    if (event.target === na && na.checked) {
      question.querySelectorAll("input[name=answer]").forEach(function (input) {
        if (input === na) return;
        if (input.type === "checkbox") input.checked = false;
        else if (input.type === "number") input.value = "";
      });
    } else if (event.target !== na && (event.target.type !== "checkbox" || event.target.checked)) {
      na.checked = false;
    }
  }
  // Capturing, so the form is consistent before htmx serialises it on the same event.
  document.addEventListener("input", keepNotApplicableExclusive, true);
  document.addEventListener("change", keepNotApplicableExclusive, true);

  // "No errors found" / "no criterion met" is an answer of its own: choosing it throws away
  // the marked spans (after asking) and unticks the criteria; marking or ticking clears it.
  function keepNoneExclusive(event) {
    var target = event.target;
    var question = target.closest && target.closest("[data-question]");
    var none = question && question.querySelector("[data-none]");
    if (!none) return;
    if (target !== none) {
      if (target.type === "checkbox" && target.checked) none.checked = false;
      return;
    }
    if (!none.checked) return;
    var marked = question.querySelectorAll("[data-span-list] li");
    var discard = "Throw away the " + marked.length + " marked span" +
      (marked.length === 1 ? "" : "s") + " and answer “" + none.parentNode.textContent.trim()
      .replace(/^n\s*/, "") + "”?";
    if (marked.length && !window.confirm(discard)) {
      // Kept as it was: nothing changed, so nothing is saved.
      none.checked = false;
      event.stopImmediatePropagation();
      return;
    }
    marked.forEach(function (li) { li.remove(); });
    var spans = question.querySelector("[data-spans]");
    if (spans) spans.value = "[]";
    question.querySelectorAll("input[type=checkbox][name=answer]").forEach(function (input) {
      if (input !== none) input.checked = false;
    });
    highlightSpans();
  }
  // Capturing, so the form is consistent before htmx serialises it on the same event.
  document.addEventListener("change", keepNoneExclusive, true);

  // Span marking: the selection's character offsets in the response text (rendered with
  // white-space: pre-wrap, so the DOM text is exactly the stored text), kept in the form's
  // hidden field as JSON and saved like any other answer.
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

  // The marked spans shown in the response text itself, as <mark>s around text nodes: the
  // text content stays exactly the stored text, so offsets measured later still fit. Spans of
  // every span question on the page, overlapping ones merged into one mark per stretch.
  function highlightSpans() {
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
          return li.dataset.category + " · " + li.dataset.severity;
        }).join("; ");
        mark.append(piece);
        piece = mark;
      }
      pieces.push(piece);
    }
    container.replaceChildren.apply(container, pieces);
  }
  highlightSpans();
  // A list rebuilt elsewhere (an answer restored, or changed in another tab) is shown too.
  var watcher = new MutationObserver(highlightSpans);
  document.querySelectorAll("[data-span-list]").forEach(function (list) {
    watcher.observe(list, { childList: true });
  });
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
  document.addEventListener("click", function (event) {
    var form = event.target.closest && event.target.closest("[data-question]");
    if (!form) return;
    if (event.target.matches("[data-span-remove]")) {
      event.target.closest("li").remove();
      saveSpans(form);
    } else if (event.target.matches("[data-span-mark]")) {
      var found = selectionOffsets(document.getElementById("output-text"));
      var status = form.querySelector(".status");
      if (!found) {
        status.innerHTML = '<span class="error">First select some words in the response.</span>';
        return;
      }
      var category = form.querySelector("[data-span-category]");
      var severity = form.querySelector("[data-span-severity]").value;
      var li = document.createElement("li");
      li.dataset.start = found.start;
      li.dataset.end = found.end;
      li.dataset.category = category.value;
      li.dataset.severity = severity;
      var quote = document.createElement("span");
      quote.className = "quote";
      quote.textContent = found.quote;  // untrusted text: never innerHTML
      li.append("“", quote, "” · " + category.selectedOptions[0].textContent + " · " + severity + " ");
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "link";
      remove.dataset.spanRemove = "";
      remove.textContent = "Remove";
      li.append(remove);
      form.querySelector("[data-span-list]").append(li);
      window.getSelection().removeAllRanges();
      saveSpans(form);
    }
  });
})();
