// The print view's button opens the browser's print dialog (no inline handler: the CSP forbids it).
document.addEventListener("click", function (event) {
  if (event.target.closest && event.target.closest("[data-print]")) window.print();
});
