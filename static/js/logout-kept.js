// Logging out with answers of one's own still kept in this browser (not yet saved): ask first.
// They stay, under a name only this rater's pages know, and are saved when the same rater signs
// in here again; another user of the browser is never shown them. On a shared computer the rater
// may remove them instead, knowing that they are then lost. Every signed-in page loads it.
import { gettext, interpolate, ngettext } from "./i18n.js";
var form = document.querySelector("form[data-kept-answers]");
var scope = form ? form.dataset.keptAnswers : "";
// The rater's own kept answers (rater/kept.js keeps them under this name).
var prefix = "evalapp.pending/" + scope + "/";

function keptKeys() {
  var keys = [];
  try {
    for (var i = 0; i < localStorage.length; i++) {
      var key = localStorage.key(i);
      if (key && key.indexOf(prefix) === 0) keys.push(key);
    }
  } catch (e) { /* storage unavailable: nothing kept */ }
  return keys;
}

function button(text, action, primary) {
  var b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  b.dataset.logoutChoice = action;
  if (primary) b.className = "primary";
  return b;
}

function ask(count) {
  var dialog = document.createElement("dialog");
  dialog.className = "sign-in";
  dialog.id = "logout-kept";
  dialog.setAttribute("aria-labelledby", "logout-kept-title");
  var title = document.createElement("h2");
  title.id = "logout-kept-title";
  title.textContent = interpolate(ngettext("%(count)s answer is not saved yet",
    "%(count)s answers are not saved yet", count), { count: count });
  var text = document.createElement("p");
  text.textContent = ngettext(
    "It stays in this browser until you sign in again here, and is saved then. No one else " +
      "signing in here is shown it. On a shared computer you may remove it instead, and it " +
      "is lost.",
    "They stay in this browser until you sign in again here, and are saved then. No one else " +
      "signing in here is shown them. On a shared computer you may remove them instead, and " +
      "they are lost.",
    count);
  var stay = button(gettext("Stay signed in"), "stay", true);
  dialog.append(title, text, stay, " ", button(gettext("Log out"), "keep"), " ",
    button(ngettext("Log out and remove it", "Log out and remove them", count), "remove"));
  dialog.addEventListener("click", function (event) {
    var choice = event.target.dataset && event.target.dataset.logoutChoice;
    if (!choice) return;
    dialog.close();
    dialog.remove();
    if (choice === "stay") return;
    if (choice === "remove") keptKeys().forEach(function (key) { localStorage.removeItem(key); });
    form.submit();  // no submit event: not asked again
  });
  document.body.append(dialog);
  dialog.showModal();
  stay.focus();
}

if (form && scope) {
  form.addEventListener("submit", function (event) {
    var count = keptKeys().length;
    if (!count) return;
    event.preventDefault();
    ask(count);
  });
}
