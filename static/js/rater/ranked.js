// A ranked answer's rows (assisted reading): Alt+ArrowUp / Alt+ArrowDown, or a row's "Move
// up" / "Move down" button (for touch screens), move the entry one place, swapping it with its
// neighbour, and the change is saved as any typing is (an input event on the question's form).
// Tab and Shift+Tab move between rows as usual.
function swap(input, up) {
  var rows = Array.prototype.slice.call(
    input.closest("[data-ranked]").querySelectorAll("[data-entry]"));
  var other = rows[rows.indexOf(input) + (up ? -1 : 1)];
  if (!other) return null;
  var value = input.value;
  input.value = other.value;
  other.value = value;
  other.dispatchEvent(new Event("input", { bubbles: true }));
  return other;
}

function moveEntry(event) {
  var input = event.target;
  if (!event.altKey || !input.matches || !input.matches("[data-entry]")) return;
  if (event.key !== "ArrowUp" && event.key !== "ArrowDown") return;
  event.preventDefault();
  var other = swap(input, event.key === "ArrowUp");
  if (other) other.focus();
}

// The button moves the entry and then stays with it: the same button of the row it moved to,
// so that pressing it again moves the entry further (or the other one, at the end).
function pressMove(event) {
  var button = event.target.closest && event.target.closest("[data-move]");
  if (!button || button.disabled) return;
  var up = button.dataset.move === "up";
  var other = swap(button.closest("li").querySelector("[data-entry]"), up);
  if (!other) return;
  var next = other.closest("li").querySelector("[data-move=" + button.dataset.move + "]");
  (next && !next.disabled ? next : other.closest("li").querySelector("[data-move]:not([disabled])"))
    .focus();
}

export function startRanked() {
  document.addEventListener("keydown", moveEntry);
  document.addEventListener("click", pressMove);
}
