// Keyboard shortcuts for the rater screen: digits answer the highlighted question (then move on
// to the next), 0 is "not applicable", arrows move between items.
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
  // A rank belongs to one response: giving it to another takes it away from the first.
  // Capturing, so the form is consistent before htmx serialises it on the same event.
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.closest || !input.closest("[data-ranking]") || !input.checked) return;
    input.closest("[data-ranking]").querySelectorAll('input[value="' + input.value + '"]')
      .forEach(function (other) { if (other !== input) other.checked = false; });
  }, true);

  // No lost work: a save that cannot reach the server (offline, server restarting) stays
  // pending, says so, and is sent again when the connection is back.
  var pending = new Set();
  function questionOf(event) {
    var elt = event.detail && event.detail.elt;
    return elt && elt.closest ? elt.closest("[data-question]") : null;
  }
  function markPending(event) {
    var form = questionOf(event);
    if (!form) return;
    pending.add(form);
    var status = form.querySelector(".status");
    if (status) status.innerHTML = '<span class="warn">Not saved yet: no connection. Retrying…</span>';
  }
  function retry() {
    pending.forEach(function (form) {
      pending.delete(form);
      htmx.trigger(form, "change");
    });
  }
  document.body.addEventListener("htmx:sendError", markPending);
  document.body.addEventListener("htmx:responseError", markPending);
  window.addEventListener("online", retry);
  setInterval(function () { if (pending.size && navigator.onLine) retry(); }, 3000);
  window.addEventListener("beforeunload", function (event) {
    if (pending.size) { event.preventDefault(); event.returnValue = ""; }
  });

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
    form.querySelector("[data-spans]").value = JSON.stringify(spansOf(form));
    form.dispatchEvent(new Event("change", { bubbles: true }));
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

  // Time on task: what the page was visible for, sent with each save and with the submit.
  var visibleSince = document.visibilityState === "visible" ? Date.now() : null;
  var unreported = 0;
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") { visibleSince = Date.now(); return; }
    if (visibleSince !== null) unreported += Date.now() - visibleSince;
    visibleSince = null;
  });
  function takeElapsed() {
    var now = Date.now();
    var elapsed = unreported + (visibleSince !== null ? now - visibleSince : 0);
    unreported = 0;
    if (visibleSince !== null) visibleSince = now;
    return Math.round(elapsed);
  }
  document.body.addEventListener("htmx:configRequest", function (event) {
    event.detail.parameters.elapsed_ms = takeElapsed();
  });
  var submitForm = document.getElementById("submit");
  if (submitForm) {
    submitForm.addEventListener("submit", function () {
      submitForm.querySelector("input[name=elapsed_ms]").value = takeElapsed();
    });
  }

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

  // Images: a thumbnail opens the image in a dialog that zooms (buttons, + - 0, the wheel)
  // and pans (scrolling, or dragging on a tablet); pinch-zoom works there too.
  var zoom = document.getElementById("zoom");
  var zoomLevels = [0.5, 0.75, 1, 1.5, 2, 3, 4, 6, 8];
  var zoomAt = 2;
  function zoomTo(index) {
    zoomAt = Math.max(0, Math.min(zoomLevels.length - 1, index));
    var image = zoom.querySelector("img");
    var fit = Math.min(
      (window.innerWidth * 0.9) / (image.naturalWidth || 1),
      (window.innerHeight * 0.8) / (image.naturalHeight || 1)
    );
    var scale = fit * zoomLevels[zoomAt];
    image.style.width = Math.round((image.naturalWidth || 1) * scale) + "px";
    zoom.querySelector("[data-zoom-level]").textContent = Math.round(zoomLevels[zoomAt] * 100) + "%";
  }
  function openZoom(url) {
    var image = zoom.querySelector("img");
    image.onload = function () { zoomTo(2); };
    image.src = url;
    zoom.showModal();
    if (image.complete && image.naturalWidth) zoomTo(2);
  }
  if (zoom) {
    document.addEventListener("click", function (event) {
      var thumb = event.target.closest && event.target.closest("[data-zoom]");
      if (thumb) { openZoom(thumb.dataset.zoom); return; }
      var step = event.target.closest && event.target.closest("[data-zoom-step]");
      if (step) {
        var by = Number(step.dataset.zoomStep);
        zoomTo(by === 0 ? 2 : zoomAt + by);
      } else if (event.target.closest && event.target.closest("[data-zoom-close]")) {
        zoom.close();
      }
    });
    zoom.addEventListener("wheel", function (event) {
      if (!event.ctrlKey && !event.altKey) return;  // plain wheel scrolls (pans)
      event.preventDefault();
      zoomTo(zoomAt + (event.deltaY < 0 ? 1 : -1));
    }, { passive: false });
  }

  document.addEventListener("keydown", function (event) {
    if (zoom && zoom.open) {
      if (event.key === "+" || event.key === "=") zoomTo(zoomAt + 1);
      else if (event.key === "-") zoomTo(zoomAt - 1);
      else if (event.key === "0") zoomTo(2);
      else return;  // Escape closes the dialog by itself
      event.preventDefault();
      return;
    }
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    var tag = (event.target.tagName || "").toLowerCase();
    var typing = tag === "textarea" || (tag === "input" && /^(text|number)$/.test(event.target.type));
    if (typing) {
      if (event.key === "Escape") event.target.closest("[data-question]").focus();
      return;
    }
    if (event.key === "i" && zoom) {
      openZoom(document.querySelector("[data-zoom]").dataset.zoom);
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
