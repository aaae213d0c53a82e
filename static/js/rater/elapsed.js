// Time on task: what the page was visible for, sent with each save and with the submit.
var visibleSince = document.visibilityState === "visible" ? Date.now() : null;
var unreported = 0;

export function takeElapsed() {
  var now = Date.now();
  var elapsed = unreported + (visibleSince !== null ? now - visibleSince : 0);
  unreported = 0;
  if (visibleSince !== null) visibleSince = now;
  return Math.round(elapsed);
}

export function startElapsed() {
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") { visibleSince = Date.now(); return; }
    if (visibleSince !== null) unreported += Date.now() - visibleSince;
    visibleSince = null;
  });
  document.body.addEventListener("htmx:configRequest", function (event) {
    event.detail.parameters.elapsed_ms = takeElapsed();
  });
}
