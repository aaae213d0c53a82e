// How the answer controls behave before htmx saves them: a rank belongs to one response, and
// "not applicable" and "none found" exclude the other answers. Each listener captures, so the
// form is consistent before htmx serialises it on the same event.
import { highlightSpans } from "./spans.js";
import { interpolate, ngettext } from "../i18n.js";

// A rank belongs to one response: giving it to another takes it away from the first.
function keepRankUnique(event) {
  var input = event.target;
  if (!input.closest || !input.closest("[data-ranking]") || !input.checked) return;
  input.closest("[data-ranking]").querySelectorAll('input[value="' + input.value + '"]')
    .forEach(function (other) { if (other !== input) other.checked = false; });
}

// "Not applicable" excludes every other answer to its question, and the other way round.
function keepNotApplicableExclusive(event) {
  var question = event.target.closest && event.target.closest("[data-question]");
  if (!question) return;
  var na = question.querySelector("[data-na]");
  if (!na) return;
  if (event.target === na && na.checked) {
    question.querySelectorAll("input[name=answer], input[data-fact]").forEach(function (input) {
      if (input === na) return;
      if (input.type === "checkbox") input.checked = false;
      else if (input.type === "number") input.value = "";
    });
  } else if (event.target !== na && (event.target.type !== "checkbox" || event.target.checked)) {
    na.checked = false;
  }
}

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
  var answer = none.parentNode.textContent.trim().replace(/^n\s*/, "");
  var discard = interpolate(ngettext(
    "Throw away the %(count)s marked span and answer “%(answer)s”?",
    "Throw away the %(count)s marked spans and answer “%(answer)s”?",
    marked.length), { count: marked.length, answer: answer });
  if (marked.length && !window.confirm(discard)) {
    // Kept as it was: nothing changed, so nothing is saved.
    none.checked = false;
    event.stopImmediatePropagation();
    return;
  }
  marked.forEach(function (li) { li.remove(); });
  var spans = question.querySelector("[data-spans]");
  if (spans) spans.value = "[]";
  var ticked = "input[type=checkbox][name=answer], input[data-fact]";  // data-fact: omission
  question.querySelectorAll(ticked).forEach(function (input) {
    if (input !== none) input.checked = false;
  });
  highlightSpans();
}

// After saving's own listeners (queue.js), which keep each change before these adjust it.
export function startAnswers() {
  document.addEventListener("change", keepRankUnique, true);
  document.addEventListener("input", keepNotApplicableExclusive, true);
  document.addEventListener("change", keepNotApplicableExclusive, true);
  document.addEventListener("change", keepNoneExclusive, true);
}
