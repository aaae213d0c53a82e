import { gettext } from "../i18n.js";
import { showCorrectionState } from "./corrections.js";

// A question's controls filled from stored fields: an answer restored from this browser, one
// changed in another tab, or the newest stored one; the marked spans' list redrawn with them.
export function applyFields(form, fields) {
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
      // A correction's box without an answer holds the response's text, to edit.
      input.value = typed.length ? typed[0] : (input.dataset.original || "");
      if (input.matches("[data-spans]")) drawSpans(form, input.value);
    }
  });
  form.classList.toggle("answered", fields.length > 0);
  if (form.querySelector("[data-correction]")) showCorrectionState(form);
}
// The marked spans' list, rebuilt from the hidden field (quotes from the response's text).
function drawSpans(form, json) {
  var list = form.querySelector("[data-span-list]");
  var text = document.getElementById("output-text");
  if (!list) return;
  var spans = [];
  try { spans = JSON.parse(json || "[]"); } catch (e) { spans = []; }
  if (!Array.isArray(spans)) spans = [];
  // A span shows its category and severity by their labels in the page (the reader's language),
  // never by their codes.
  var labels = {}, severities = {};
  form.querySelectorAll("[data-span-category] option").forEach(function (option) {
    labels[option.value] = option.textContent;
  });
  form.querySelectorAll("[data-span-severity] option").forEach(function (option) {
    severities[option.value] = option.textContent;
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
    remove.textContent = gettext("Remove");
    li.append("“", quote, "” · " + (labels[span.category] || span.category) + " · " +
      (severities[span.severity] || span.severity) + " ", remove);
    return li;
  }));
}
// The answers read back from the server, {name: [values]}, as the pairs a form posts.
export function fieldsFromServer(fields) {
  var pairs = [];
  Object.keys(fields || {}).forEach(function (name) {
    fields[name].forEach(function (value) { pairs.push([name, value]); });
  });
  return pairs;
}
