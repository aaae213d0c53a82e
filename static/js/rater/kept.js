// What the rater page keeps in localStorage: every answer the server has not acknowledged, only
// what the form posts (never anything about sources), under the signed-in rater's opaque name,
// per study, item and question. Used by rater-save.js; see docs/architecture.md, "Unsaved
// answers in the browser".
window.evalappKept = (function () {
  "use strict";
  var root = document.getElementById("unsaved");
  var study = root ? root.dataset.study : "";
  var item = root ? root.dataset.item : "";
  var PREFIX = "evalapp.pending/";
  // Named by the signed-in rater (an opaque value from the server): another user of this
  // browser never sees, replays or is pointed to them.
  var scope = root ? root.dataset.scope : "";
  var studyPrefix = PREFIX + scope + "/" + study + "/";
  var itemPrefix = studyPrefix + item + "/";
  // Told apart from other tabs on the same item: a pending entry this tab wrote is its own.
  var tabId = Math.random().toString(36).slice(2);

  // --- what is kept in localStorage: only what the form posts, per study, item and question
  function storageKey(form) {
    var about = form.querySelector("input[name=about]");
    return itemPrefix + form.querySelector("input[name=question]").value +
      (about ? "/" + about.value : "");
  }
  function fieldsOf(form) {
    var fields = [];
    new FormData(form).forEach(function (value, name) {
      if (name !== "csrfmiddlewaretoken") fields.push([name, String(value)]);
    });
    return JSON.stringify(fields);
  }
  function readEntry(key) {
    try { return JSON.parse(localStorage.getItem(key)); } catch (e) { return null; }
  }
  function entryOf(form) { return root && scope ? readEntry(storageKey(form)) : null; }
  // `base`: the revision of the stored answer the form's answer replaces.
  function keep(form, base) {
    if (!root || !scope) return;
    var entry = {
      fields: fieldsOf(form), label: root.dataset.itemLabel, tab: tabId, at: Date.now(), base: base
    };
    try { localStorage.setItem(storageKey(form), JSON.stringify(entry)); } catch (e) { /* full */ }
  }
  // Only the answer the server acknowledged leaves: a newer one this tab typed meanwhile stays,
  // now based on the acknowledged revision.
  function drop(form, fields, revision) {
    var entry = entryOf(form);
    if (entry && entry.fields === fields) {
      localStorage.removeItem(storageKey(form));
    } else if (entry && revision && entry.tab === tabId) {
      entry.base = revision;
      try { localStorage.setItem(storageKey(form), JSON.stringify(entry)); } catch (e) { /* full */ }
    }
  }

  // --- controls filled from stored fields (a restored answer, or another tab's)
  function applyFields(form, fields) {
    var values = {};
    fields.forEach(function (pair) { (values[pair[0]] = values[pair[0]] || []).push(pair[1]); });
    var inputs = form.querySelectorAll("input[name], textarea[name], select[name]");
    var choices = {};
    inputs.forEach(function (input) {
      if (input.type === "radio" || input.type === "checkbox") {
        (choices[input.name] = choices[input.name] || []).push(input.value);
      }
    });
    inputs.forEach(function (input) {
      var name = input.name;
      if (name === "question" || name === "about" || name === "csrfmiddlewaretoken") return;
      var given = values[name] || [];
      if (input.type === "radio" || input.type === "checkbox") {
        input.checked = given.indexOf(input.value) >= 0;
      } else {
        // A typed value shares its name with "not applicable": the first that is no choice.
        var typed = given.filter(function (v) { return (choices[name] || []).indexOf(v) < 0; });
        input.value = typed.length ? typed[0] : "";
        if (input.matches("[data-spans]")) drawSpans(form, input.value);
      }
    });
    form.classList.toggle("answered", fields.length > 0);
  }
  // The marked spans' list, rebuilt from the hidden field (quotes from the response's text).
  function drawSpans(form, json) {
    var list = form.querySelector("[data-span-list]");
    var text = document.getElementById("output-text");
    if (!list) return;
    var spans = [];
    try { spans = JSON.parse(json || "[]"); } catch (e) { spans = []; }
    if (!Array.isArray(spans)) spans = [];
    var labels = {};
    form.querySelectorAll("[data-span-category] option").forEach(function (option) {
      labels[option.value] = option.textContent;
    });
    list.replaceChildren.apply(list, spans.map(function (span) {
      var li = document.createElement("li");
      li.dataset.start = span.start;
      li.dataset.end = span.end;
      li.dataset.category = span.category;
      li.dataset.severity = span.severity;
      var quote = document.createElement("span");
      quote.className = "quote";
      quote.textContent = text ? text.textContent.slice(span.start, span.end) : "";
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "link";
      remove.dataset.spanRemove = "";
      remove.textContent = "Remove";
      li.append("“", quote, "” · " + (labels[span.category] || span.category) + " · " +
        span.severity + " ", remove);
      return li;
    }));
  }
  function fieldsFromServer(fields) {
    var pairs = [];
    Object.keys(fields || {}).forEach(function (name) {
      fields[name].forEach(function (value) { pairs.push([name, value]); });
    });
    return pairs;
  }

  // Answers kept under the name this rater had before SECRET_KEY was rotated are theirs.
  function adoptRetired() {
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
  function showOtherItems() {
    var notice = document.getElementById("other-items");
    var items = {};
    for (var i = 0; i < localStorage.length; i++) {
      var key = localStorage.key(i);
      if (key.indexOf(studyPrefix) !== 0 || key.indexOf(itemPrefix) === 0) continue;
      var token = key.slice(studyPrefix.length).split("/")[0];
      var entry = readEntry(key);
      items[token] = (entry && entry.label) || "another item";
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


  return {
    scope: scope, itemPrefix: itemPrefix, tabId: tabId, storageKey: storageKey,
    fieldsOf: fieldsOf, readEntry: readEntry, entryOf: entryOf, keep: keep, drop: drop,
    applyFields: applyFields, fieldsFromServer: fieldsFromServer, adoptRetired: adoptRetired,
    showOtherItems: showOtherItems
  };
})();
