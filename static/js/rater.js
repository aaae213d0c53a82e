// Keyboard shortcuts for the rater screen: digits pick a scale point, arrows move between items.
(function () {
  "use strict";
  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    var tag = (event.target.tagName || "").toLowerCase();
    if (tag === "textarea" || (tag === "input" && event.target.type === "text")) return;
    if (/^[1-9]$/.test(event.key)) {
      var radio = document.querySelector('#rating input[data-key="' + event.key + '"]');
      if (radio && !radio.checked) {
        radio.checked = true;
        // htmx listens for "change" on the form; a scripted check does not fire it by itself.
        radio.dispatchEvent(new Event("change", { bubbles: true }));
      }
      event.preventDefault();
    } else if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
      var link = document.getElementById(event.key === "ArrowRight" ? "next" : "previous");
      if (link) window.location.assign(link.href);
      event.preventDefault();
    }
  });
})();
