// Saving: answers that could not reach the server stay pending and are sent again, and the
// time on task goes with every save and the submit.
(function () {
  "use strict";
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
})();
