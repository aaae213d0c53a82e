// Omission questions: a fact the response leaves out cannot also be stated wrongly, so ticking
// one of a fact's two boxes unticks the other. Captured, like answers.js, so the form is
// consistent before htmx serialises it on the same event.
function keepFactMarkExclusive(event) {
  var input = event.target;
  if (!input.matches || !input.matches("input[data-fact]") || !input.checked) return;
  var row = input.closest("tr");
  if (!row) return;
  row.querySelectorAll("input[data-fact]").forEach(function (other) {
    if (other !== input) other.checked = false;
  });
}

export function startFacts() {
  document.addEventListener("change", keepFactMarkExclusive, true);
}
