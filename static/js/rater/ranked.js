// A ranked answer's rows (assisted reading): Alt+ArrowUp / Alt+ArrowDown move the focused
// entry one place, swapping it with its neighbour, and the change is saved as any typing is
// (an input event on the question's form). Tab and Shift+Tab move between rows as usual.
function moveEntry(event) {
  var input = event.target;
  if (!event.altKey || !input.matches || !input.matches("[data-entry]")) return;
  if (event.key !== "ArrowUp" && event.key !== "ArrowDown") return;
  var rows = Array.prototype.slice.call(
    input.closest("[data-ranked]").querySelectorAll("[data-entry]"));
  var other = rows[rows.indexOf(input) + (event.key === "ArrowUp" ? -1 : 1)];
  event.preventDefault();
  if (!other) return;
  var value = input.value;
  input.value = other.value;
  other.value = value;
  other.focus();
  other.dispatchEvent(new Event("input", { bubbles: true }));
}

export function startRanked() {
  document.addEventListener("keydown", moveEntry);
}
