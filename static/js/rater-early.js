// The one classic (not module) script of the rater page, loaded in the head so it runs before
// the page can be used. The page's modules run only once they have all loaded; an answer given
// before then is saved by htmx, but nothing would keep it in this browser or read the server's
// acknowledgement. So until then a change only marks its form, and the save queue keeps and
// sends each marked form when it starts (rater/queue.js, startQueue).
(function () {
  function mark(event) {
    var form = event.target.closest && event.target.closest("form[data-question]");
    if (form) form.setAttribute("data-changed-early", "");
  }
  document.addEventListener("input", mark, true);
  document.addEventListener("change", mark, true);
})();
