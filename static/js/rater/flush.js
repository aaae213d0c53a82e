// The page going away: answers not yet sent (typed text waits for a pause in typing) go at once,
// with a request that outlives the page; leaving with answers unsaved asks first.
import { csrfToken } from "./csrf.js";
import { questionForms } from "./forms.js";
import { entryOf, fieldsOf } from "./kept.js";
import { conflicts, inflight, pendingForms, retryLater, stopped } from "./pending.js";
import { acknowledge, leave } from "./queue.js";
import { isSignedOut } from "./session.js";

var flushed = new Map();  // form -> the fields last sent as the page was hidden

function flush() {
  // Offline, it could not arrive: what waits stays kept for the next visit.
  if (isSignedOut() || !navigator.onLine) return;
  questionForms().forEach(function (form) {
    var sent = fieldsOf(form);
    // Sent once though both events may come; sent even if htmx's request is on its way,
    // since that one dies with the page. Not a kept answer in conflict, nor one the server
    // will not take now.
    if (conflicts.has(form) || stopped.has(form)) return;
    if (!entryOf(form) || flushed.get(form) === sent) return;
    flushed.set(form, sent);
    var body = new FormData(form);
    body.set("csrfmiddlewaretoken", csrfToken());
    inflight.set(form, sent);
    fetch(form.getAttribute("action"), {
      method: "POST", body: body, keepalive: true, credentials: "same-origin",
      headers: { "HX-Request": "true", "X-CSRFToken": csrfToken() }
    }).then(function (response) {
      inflight.delete(form);
      acknowledge(form, sent, response.status, function (name) {
        return response.headers.get(name);
      }, response.url);
    }, function () { inflight.delete(form); retryLater(form); });
  });
}

export function startFlush() {
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") flush();
  });
  window.addEventListener("pagehide", function () { leave(); flush(); });
  // A kept answer awaiting the rater's choice waits just as well on a later visit: no warning.
  window.addEventListener("beforeunload", function (event) {
    var waiting = pendingForms().filter(function (form) { return !conflicts.has(form); });
    if (waiting.length) { event.preventDefault(); event.returnValue = ""; }
  });
}
