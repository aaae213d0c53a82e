// Whether this browser is signed in, and signing in again without leaving the item: a save
// answered by the login page or a 401 signs the page out; the answers read back sign it in.
import { csrfToken } from "./csrf.js";
import { root } from "./forms.js";
import { gettext } from "../i18n.js";

var signedOut = false;
var listeners = [];

export function isSignedOut() { return signedOut; }
// `listener` runs each time the page is signed out or in again.
export function onSignInChange(listener) { listeners.push(listener); }

export function signOut() {
  if (signedOut) return;
  signedOut = true;
  var notice = document.getElementById("signed-out");
  if (notice) notice.hidden = false;
  listeners.forEach(function (listener) { listener(); });
}
function signedIn() {
  if (!signedOut) return;
  signedOut = false;
  var notice = document.getElementById("signed-out");
  if (notice) notice.hidden = true;
  listeners.forEach(function (listener) { listener(); });
}

// Whether this browser is signed in; the answers it reads are compared by other-tabs.js.
export function probe() {
  if (!root) return Promise.resolve(null);
  return fetch(root.dataset.answersUrl, {
    headers: { "X-Requested-With": "fetch" }, credentials: "same-origin", cache: "no-store"
  }).then(function (response) {
    if (response.status === 401) { signOut(); return null; }
    if (!response.ok) return null;
    return response.json().then(function (body) { signedIn(); return body; });
  }, function () { return null; });
}

// The sign-in dialog: the login form posted by fetch, so the page and its answers stay.
export function startSignIn() {
  var dialog = document.getElementById("sign-in");
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-sign-in]") && dialog) {
      dialog.querySelector("[data-sign-in-error]").hidden = true;
      dialog.showModal();
    } else if (event.target.closest("[data-sign-in-cancel]") && dialog) {
      dialog.close();
    }
  });
  if (dialog) dialog.querySelector("[data-sign-in-form]").addEventListener("submit", signIn);
}

function signIn(event) {
  event.preventDefault();
  var form = event.target;
  var dialog = document.getElementById("sign-in");
  var error = dialog.querySelector("[data-sign-in-error]");
  var login = root.dataset.loginUrl;
  // No CSRF cookie yet (a first visit, cookies cleared): the login page sets one.
  var ready = csrfToken() ? Promise.resolve() : fetch(login, { credentials: "same-origin" });
  ready.then(function () {
    var body = new FormData(form);
    body.append("csrfmiddlewaretoken", csrfToken());
    body.append("next", window.location.pathname);
    // Success is a redirect; not following it keeps this page where it is.
    return fetch(login, {
      method: "POST", body: body, credentials: "same-origin", redirect: "manual"
    });
  }).then(function () { return probe(); }).then(function (answers) {
    if (answers) {
      form.reset();
      dialog.close();
    } else {
      error.textContent = gettext("That user name and password did not sign you in. Try again.");
      error.hidden = false;
    }
  }, function () {
    error.textContent = gettext("The server could not be reached. Try again in a moment.");
    error.hidden = false;
  });
}
