// Logging out with answers of one's own still kept in this browser (not yet saved): ask first.
// They stay, under a name only this rater's pages know, and are saved when the same rater signs
// in here again; another user of the browser is never shown them. On a shared computer the rater
// may remove them instead, knowing that they are then lost. Every signed-in page loads it.
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
  title.textContent = count + (count === 1 ? " answer is" : " answers are") + " not saved yet";
  var text = document.createElement("p");
  text.textContent = (count === 1 ? "It stays" : "They stay") + " in this browser until you " +
    "sign in again here, and " + (count === 1 ? "is" : "are") + " saved then. No one else " +
    "signing in here is shown " + (count === 1 ? "it" : "them") + ". On a shared computer " +
    "you may remove " + (count === 1 ? "it" : "them") + " instead, and " +
    (count === 1 ? "it is" : "they are") + " lost.";
  var stay = button("Stay signed in", "stay", true);
  dialog.append(title, text, stay, " ", button("Log out", "keep"), " ",
    button("Log out and remove " + (count === 1 ? "it" : "them"), "remove"));
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
