// Saving: no answer is lost and none is shown as saved before the server says it stored it.
// Every answer given is kept in this browser until acknowledged (kept.js), so it survives a lost
// session, a lost connection, a reload or a closed tab, and is sent again. This module sends the
// question forms (htmx posts them), reads what each save's answer means, and tries again.
// See docs/architecture.md, "Unsaved answers in the browser".
import { csrfToken } from "./csrf.js";
import { formId, questionForms, questionOf, root, send, setStatus } from "./forms.js";
import { drop, entryOf, fieldsOf, keep } from "./kept.js";
import { showPendingNotice } from "./notice.js";
import { conflicts, inflight, retryLater, retrying, settled, stopped } from "./pending.js";
import { revisionOf, setRevision } from "./revisions.js";
import { isSignedOut, probe, signOut } from "./session.js";
import { gettext, interpolate } from "../i18n.js";

var leaving = false;

// `base`: the revision of the stored answer this one replaces, to tell on a later visit
// whether the stored answer changed meanwhile (elsewhere) and must not be overwritten unseen.
function keepAnswer(form) { keep(form, revisionOf(formId(form)) || null); }

// A form in conflict is not sent: that would put the answer shown over the one kept.
export function saveAllPending() {
  questionForms().forEach(function (form) {
    if (conflicts.has(form)) return;
    if (entryOf(form) || retrying.has(form)) { retrying.delete(form); send(form); }
  });
}
function sendDue() {
  var now = Date.now();
  retrying.forEach(function (at, form) {
    if (at <= now && !conflicts.has(form)) { retrying.delete(form); send(form); }
  });
}

// The page is going away: a redirect a save is answered with is not followed then.
export function leave() { leaving = true; }

// Every change is kept before it is sent; the last "Saved" no longer speaks for it.
function changed(event) {
  var form = event.target.closest && event.target.closest("form[data-question]");
  if (!form || !root) return;
  // The rater answered again: that answer replaces the one kept from an earlier visit.
  conflicts.delete(form);
  stopped.delete(form);
  keepAnswer(form);
  setStatus(form, "muted", isSignedOut() ? SIGNED_OUT : "Saving…");
}

function configRequest(event) {
  var form = questionOf(event);
  if (form && isSignedOut()) {
    keepAnswer(form);
    event.preventDefault();  // kept; sent once signed in again
    return;
  }
  var token = csrfToken();
  if (token) {
    event.detail.headers["X-CSRFToken"] = token;
    // The form's own token field wins over the header in Django: replace it too.
    if (event.detail.parameters.csrfmiddlewaretoken !== undefined) {
      event.detail.parameters.csrfmiddlewaretoken = token;
    }
  }
  if (!form) return;
  keepAnswer(form);
  inflight.set(form, fieldsOf(form));
}

function afterRequest(event) {
  var form = questionOf(event);
  if (!form || !inflight.has(form)) return;
  var sent = inflight.get(form);
  inflight.delete(form);
  acknowledge(form, sent, event.detail.xhr.status, function (name) {
    return event.detail.xhr.getResponseHeader(name);
  }, event.detail.xhr.responseURL);
}

// What a save's answer means. Only a response that says so counts as stored; a 200 alone
// may be the login page after a redirect.
export function acknowledge(form, sent, status, header, url) {
  var revision = header("X-Answer-Saved");
  var redirect = header("HX-Redirect");
  if (revision) {
    setRevision(formId(form), revision);
    drop(form, sent, revision);
    settled(form);
    if (fieldsOf(form) !== sent) setStatus(form, "muted", "Saving…");
  } else if (header("X-Answer-Refused")) {
    drop(form, sent);  // not storable as given: the server's message is shown instead
    settled(form);
  } else if (status === 401 || (url && url.indexOf(root.dataset.loginUrl) >= 0)) {
    signOut();
    retrying.set(form, Date.now());
    setStatus(form, "warn", gettext("Not saved: you are signed out. Kept in this browser."));
  } else if (redirect) {
    // The study sends the rater elsewhere first (training still to do): nothing was stored.
    retrying.delete(form);
    stopped.add(form);
    setStatus(form, "warn", gettext("Not saved yet: the study has you do another item first. " +
      "Kept in this browser. It is saved when you open this item again."));
    if (!leaving) window.location.assign(redirect);
  } else if (status === 404 || status === 409 || status === 410) {
    retrying.delete(form);
    stopped.add(form);
    setStatus(form, "warn",
      gettext("Not saved: this item is no longer open to you. Kept in this browser."));
  } else if (status === 403) {
    // A stale CSRF token: the answers probe sets a fresh cookie, then this save is retried.
    if (retryLater(form, 5)) setStatus(form, "warn", gettext("Not saved yet. Retrying…"));
    else setStatus(form, "warn", gettext("Not saved: the server refuses it. Kept in this " +
      "browser. Reload the page to try again."));
    probe();
  } else if (status >= 400 && status < 500 && status !== 429) {
    if (retryLater(form, 3)) {
      setStatus(form, "warn", interpolate(
        gettext("Not saved yet: the server answered %(status)s. Retrying…"), { status: status }));
    } else {
      setStatus(form, "warn", interpolate(gettext("Not saved: the server answered %(status)s. " +
        "Kept in this browser. Reload the page to try again."), { status: status }));
    }
  } else {
    retryLater(form);
    setStatus(form, "warn", status >= 500 || status === 429
      ? gettext("Not saved yet: the server has a problem. Retrying…")
      : gettext("Not saved yet: no connection. Retrying…"));
  }
  showPendingNotice();
}

export function startQueue() {
  document.addEventListener("input", changed, true);
  document.addEventListener("change", changed, true);
  document.body.addEventListener("htmx:configRequest", configRequest);
  document.body.addEventListener("htmx:afterRequest", afterRequest);
  // Answers given before this module ran (rater-early.js marked their forms) are kept and sent
  // again, so the server's acknowledgement is read (saving the same answer twice changes
  // nothing); once htmx has set the forms up, as restore.js waits too, and before it looks.
  function sendEarly() {
    document.querySelectorAll("form[data-question][data-changed-early]").forEach(function (form) {
      form.removeAttribute("data-changed-early");
      if (root) send(form);
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { setTimeout(sendEarly, 0); });
  } else {
    setTimeout(sendEarly, 0);
  }
}

// Failed saves go again when due, everything waiting when the connection is back; signed out,
// the page asks every 3 s whether it is signed in again.
export function startRetries() {
  window.addEventListener("online", saveAllPending);
  var ticks = 0;
  setInterval(function () {
    ticks += 1;
    if (isSignedOut()) { if (ticks % 3 === 0) probe(); return; }
    if (retrying.size && navigator.onLine) sendDue();
  }, 1000);
}
