// Keyboard shortcuts for the rater screen: digits answer the highlighted question (then move on
// to the next), 0 is "not applicable", Enter submits, arrows move between items.
(function () {
  "use strict";
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

  function answer(question, key) {
    if (question.querySelector("[data-ranking]")) return rank(question, key);
    var input = question.querySelector('input[data-key="' + key + '"]');
    if (!input || input.matches(":disabled")) return;
    input.checked = input.type === "checkbox" ? !input.checked : true;
    // htmx listens for "change" on the form; a scripted check does not fire it by itself.
    input.dispatchEvent(new Event("change", { bubbles: true }));
    if (input.type === "radio") {
      var list = questions();
      var next = list[list.indexOf(question) + 1];
      (next || question).focus();
    } else {
      question.focus();
    }
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
      var list = questions();
      (list[list.indexOf(question) + 1] || question).focus();
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
  document.querySelectorAll("[data-ranking]").forEach(function (table) {
    highlightRankRow(table.closest("[data-question]"));
  });
  var submitForm = document.getElementById("submit");

  document.addEventListener("keydown", function (event) {
    // The enlarged image has its own keys (rater-images.js).
    if (document.querySelector("dialog[open]")) return;
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    var tag = (event.target.tagName || "").toLowerCase();
    var typing = tag === "textarea" || (tag === "input" && /^(text|number)$/.test(event.target.type));
    if (typing) {
      if (event.key === "Escape") event.target.closest("[data-question]").focus();
      return;
    }
    if (event.key === "i" && document.querySelector("[data-zoom]")) {
      document.querySelector("[data-zoom]").click();
      event.preventDefault();
    } else if (event.key === "Enter" && submitForm) {
      submitForm.requestSubmit();
      event.preventDefault();
    } else if (/^[0-9]$/.test(event.key)) {
      var question = activeQuestion();
      if (question) answer(question, event.key);
      event.preventDefault();
    } else if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
      var link = document.getElementById(event.key === "ArrowRight" ? "next" : "previous");
      if (link) window.location.assign(link.href);
      event.preventDefault();
    }
  });
})();
