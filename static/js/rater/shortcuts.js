// Keyboard shortcuts for the rater screen: digits (and any other key a control declares with
// data-key) answer the highlighted question, then move on to the next; 0 is "not applicable",
// Enter submits, arrows move between items, ? shows them all. A focused control keeps the keys
// it needs (keys.js).
import { isTyping, onPage, openHelp } from "../keys.js";

var questions = function () {
  return Array.prototype.slice.call(document.querySelectorAll("[data-question]"));
};

function activeQuestion() {
  var here = document.activeElement && document.activeElement.closest
    ? document.activeElement.closest("[data-question]") : null;
  if (here) return here;
  // Nothing focused: the first question without an answer, else the first.
  var list = questions();
  for (var i = 0; i < list.length; i++) {
    if (!list[i].querySelector("input:checked")) return list[i];
  }
  return list[0] || null;
}

// The control of a question that answers to a key (compared, not put into a selector, so any
// key is safe).
function keyedInput(question, key) {
  return Array.prototype.find.call(question.querySelectorAll("input[data-key]"), function (input) {
    return input.dataset.key === key;
  });
}

function answer(question, key) {
  if (question.querySelector("[data-ranking]")) return rank(question, key);
  var input = keyedInput(question, key);
  if (!input || input.matches(":disabled")) return;
  input.checked = input.type === "checkbox" ? !input.checked : true;
  // htmx listens for "change" on the form; a scripted check does not fire it by itself.
  input.dispatchEvent(new Event("change", { bubbles: true }));
  if (input.type === "radio") {
    (nextKeyed(question) || question).focus();
  } else {
    question.focus();
  }
}

// The next question the keys can answer: a free-text box in between is passed over (Tab or
// a click reaches it), or the next key press would do nothing there.
function nextKeyed(question) {
  var list = questions();
  for (var i = list.indexOf(question) + 1; i < list.length; i++) {
    if (list[i].querySelector("input[data-key], [data-ranking]")) return list[i];
  }
  return null;
}

// Ranking: each digit gives the highlighted response that rank and highlights the next one;
// after the last response the next question is highlighted.
function rank(question, key) {
  var rows = question.querySelectorAll("[data-rank-row]");
  var at = Number(question.dataset.rankAt || 0) % rows.length;
  var input = rows[at].querySelector('input[value="' + key + '"]');
  if (!input || input.matches(":disabled")) return;
  input.checked = true;
  input.dispatchEvent(new Event("change", { bubbles: true }));
  at += 1;
  if (at >= rows.length) {
    at = 0;
    (nextKeyed(question) || question).focus();
  } else {
    question.focus();
  }
  question.dataset.rankAt = at;
  highlightRankRow(question);
}
function highlightRankRow(question) {
  var at = Number(question.dataset.rankAt || 0);
  question.querySelectorAll("[data-rank-row]").forEach(function (row, i) {
    row.classList.toggle("current", i === at);
  });
}
var submitForm = document.getElementById("submit");

// Enter belongs to what has focus (a link, a button, the instructions' toggle); it submits
// only from the page itself or a question card, or from a radio or checkbox, which have no
// use for it.
function entersSubmit(target) {
  if (onPage(target, "[data-question]")) return true;
  return target.matches("input[type=radio], input[type=checkbox]") &&
    Boolean(target.closest("[data-question]"));
}

function pressed(event) {
  // A dialog (the enlarged image, the keys help) has its own keys.
  if (document.querySelector("dialog[open]")) return;
  if (event.altKey || event.ctrlKey || event.metaKey) return;
  var target = event.target;
  if (event.key === "Escape") {
    // Out of a field or an answer group, back to its question: the page's keys work again.
    var card = target.closest && target.closest("[data-question]");
    if (card && card !== target) card.focus();
    return;
  }
  if (isTyping(target)) return;  // digits type digits, arrows move the caret
  if (event.key === "?") {
    openHelp();
  } else if (event.key === "Enter") {
    if (!submitForm || !entersSubmit(target)) return;
    submitForm.requestSubmit();
  } else if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
    // A radio group, a range or a scrolled area moves with its arrows: items move only from
    // the page itself.
    if (!onPage(target, "[data-question]")) return;
    var link = document.getElementById(event.key === "ArrowRight" ? "next" : "previous");
    if (link) window.location.assign(link.href);
  } else if (event.key.length !== 1 || !answerKey(event.key)) {
    return;  // Tab, Space, letters no control answers to: theirs
  }
  event.preventDefault();
}

// A key the highlighted question has a control for (a digit, "n" for "no errors found"...)
// answers it; "i" otherwise enlarges the first image. Digits are always the page's.
function answerKey(key) {
  var question = activeQuestion();
  var ranking = question && question.querySelector("[data-ranking]");
  if (question && (ranking ? /^[0-9]$/.test(key) : keyedInput(question, key))) {
    answer(question, key);
    return true;
  }
  if (key === "i" && document.querySelector("[data-zoom]")) {
    document.querySelector("[data-zoom]").click();
    return true;
  }
  return /^[0-9]$/.test(key);
}

export function startShortcuts() {
  document.querySelectorAll("[data-ranking]").forEach(function (table) {
    highlightRankRow(table.closest("[data-question]"));
  });
  document.addEventListener("keydown", pressed);
}
