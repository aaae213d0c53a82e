// What a page's keyboard shortcuts may take, shared by the rater screen and the checklist sheet:
// a shortcut never takes a key the focused control needs for itself. Also the "Keyboard
// shortcuts" help dialog both pages have.
// Inputs that take typed characters (and their own arrows); radios, checkboxes and buttons do not.
var TYPED = /^(text|search|email|url|tel|password|number|date|time|datetime-local|month|week)$/;

// Digits, letters and arrows belong to a field being typed in (and to a select, which jumps
// to an option by its first letter).
export function isTyping(element) {
  if (!element || !element.tagName) return false;
  if (element.isContentEditable) return true;
  var tag = element.tagName.toLowerCase();
  if (tag === "textarea" || tag === "select") return true;
  return tag === "input" && TYPED.test(element.type);
}

// "The page itself": nothing focused, or one of the page's cards (a question, an item), never
// a control inside it. Only there do Enter and the arrows act for the page.
export function onPage(element, cardSelector) {
  if (!element || element === document.body || element === document.documentElement) return true;
  return Boolean(cardSelector && element.matches && element.matches(cardSelector));
}

var help = document.getElementById("keys-help");
export function openHelp() {
  if (help && !help.open) help.showModal();
}
// The help dialog made ready: its rows fitted to the page, its buttons shown.
export function startHelp() {
  if (!help) return;
  // A row about something this page does not have (say, 0 without "not applicable"): the
  // template names what the row needs as a selector.
  help.querySelectorAll("[data-help-needs]").forEach(function (row) {
    if (!document.querySelector(row.dataset.helpNeeds)) row.hidden = true;
  });
  document.querySelectorAll("[data-keys-help]").forEach(function (button) {
    button.hidden = false;  // without script there is no dialog to open
    button.addEventListener("click", openHelp);
  });
}
