// Saving: no answer is lost and none is shown as saved before the server says it stored it.
// Every answer given is kept in localStorage until acknowledged, so it survives a lost session,
// a lost connection, a reload or a closed tab, and is sent again; the time on task goes with
// every save and with the submit. See docs/architecture.md, "Unsaved answers in the browser".
(function () {
  "use strict";
  var root = document.getElementById("unsaved");
  var kept = window.evalappKept;
  var itemPrefix = kept.itemPrefix;
  var storageKey = kept.storageKey, fieldsOf = kept.fieldsOf, readEntry = kept.readEntry;
  var entryOf = kept.entryOf, drop = kept.drop, applyFields = kept.applyFields;
  var fieldsFromServer = kept.fieldsFromServer;
  var tabId = kept.tabId;
  var revisionsScript = document.getElementById("answer-revisions");
  // form id -> the revision of the stored answer this page shows (from the page, then its saves)
  var baseline = revisionsScript ? JSON.parse(revisionsScript.textContent) : null;
  var known = baseline || {};
  var inflight = new Map();  // form -> the fields of the save on its way
  var flushed = new Map();   // form -> the fields last sent as the page was hidden
  var retrying = new Map();  // form -> when to send again, after a failed save
  var attempts = new Map();  // form -> failed saves in a row
  var stopped = new Set();   // forms not sent again by themselves (gone, redirected, refused)
  var conflicts = new Set(); // forms whose kept answer was based on an answer since changed
  var leaving = false;
  var signedOut = false;
  var restored = 0;          // answers from an earlier visit, being replayed
  var SIGNED_OUT = "Not saved: you are signed out. Kept in this browser.";

  function questionForms() {
    return Array.prototype.slice.call(document.querySelectorAll("form[data-question]"));
  }
  function questionOf(event) {
    var elt = event.detail && event.detail.elt;
    return elt && elt.closest ? elt.closest("form[data-question]") : null;
  }
  function formId(form) { return form.id.replace(/^q-/, ""); }

  // Django rotates the CSRF token at login: the page's copy is stale after signing in again,
  // the cookie is not.
  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  // `base`: the revision of the stored answer this one replaces, to tell on a later visit
  // whether the stored answer changed meanwhile (elsewhere) and must not be overwritten unseen.
  function keep(form) { kept.keep(form, known[formId(form)] || null); }
  function pendingForms() {
    return questionForms().filter(function (form) { return entryOf(form) || inflight.has(form); });
  }

  // --- what the rater sees
  function setStatus(form, kind, text) {
    var status = form.querySelector(".status");
    if (!status) return;
    var span = document.createElement("span");
    span.className = kind;
    span.textContent = text;
    status.replaceChildren(span);
  }
  function note(form, text) {
    var status = form.querySelector(".status");
    if (!status) return;
    var span = document.createElement("span");
    span.className = "warn changed-elsewhere";
    span.textContent = text;
    status.append(" ", span);
  }
  function showPendingNotice() {
    var notice = document.getElementById("pending-notice");
    if (notice && notice.dataset.conflicts && !conflicts.size) {
      delete notice.dataset.conflicts;
      notice.hidden = !restored;
    }
    if (notice && !restored && conflicts.size) {
      notice.hidden = false;
      notice.dataset.conflicts = "1";
      notice.textContent = conflicts.size + (conflicts.size === 1 ? " answer" : " answers") +
        " kept in this browser from your last visit " + (conflicts.size === 1 ? "differs" : "differ") +
        " from what was saved since: choose below which to keep.";
      return;
    }
    if (!notice || !restored) return;
    var left = pendingForms().length;
    notice.hidden = false;
    notice.textContent = left
      ? restored + (restored === 1 ? " answer" : " answers") + " from your last visit " +
        (restored === 1 ? "was" : "were") + " not saved yet; " +
        (signedOut ? "they are saved once you sign in again." : "saving now…")
      : restored + (restored === 1 ? " answer" : " answers") + " from your last visit " +
        (restored === 1 ? "is" : "are") + " saved now.";
  }

  // --- sending
  function save(form) {
    if (form.querySelector("fieldset:disabled")) return;
    htmx.trigger(form, "change");
  }
  // A form in conflict is not sent: that would put the answer shown over the one kept.
  function saveAllPending() {
    questionForms().forEach(function (form) {
      if (conflicts.has(form)) return;
      if (entryOf(form) || retrying.has(form)) { retrying.delete(form); save(form); }
    });
  }
  function sendDue() {
    var now = Date.now();
    retrying.forEach(function (at, form) {
      if (at <= now && !conflicts.has(form)) { retrying.delete(form); save(form); }
    });
  }
  // Sent again later, waiting longer after each failure (up to 30 s); after `limit` failures
  // in a row it is left kept, and the rater told.
  function retryLater(form, limit) {
    var n = (attempts.get(form) || 0) + 1;
    attempts.set(form, n);
    if (limit && n >= limit) { retrying.delete(form); stopped.add(form); return false; }
    retrying.set(form, Date.now() + Math.min(30000, 1500 * Math.pow(2, n - 1)));
    return true;
  }
  function settled(form) {
    retrying.delete(form);
    attempts.delete(form);
    stopped.delete(form);
  }

  // Every change is kept before it is sent; the last "Saved" no longer speaks for it.
  function changed(event) {
    var form = event.target.closest && event.target.closest("form[data-question]");
    if (!form || !root) return;
    // The rater answered again: that answer replaces the one kept from an earlier visit.
    conflicts.delete(form);
    stopped.delete(form);
    keep(form);
    setStatus(form, "muted", signedOut ? SIGNED_OUT : "Saving…");
  }
  document.addEventListener("input", changed, true);
  document.addEventListener("change", changed, true);

  document.body.addEventListener("htmx:configRequest", function (event) {
    var form = questionOf(event);
    if (form && signedOut) {
      keep(form);
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
    keep(form);
    inflight.set(form, fieldsOf(form));
  });
  document.body.addEventListener("htmx:afterRequest", function (event) {
    var form = questionOf(event);
    if (!form || !inflight.has(form)) return;
    var sent = inflight.get(form);
    inflight.delete(form);
    acknowledge(form, sent, event.detail.xhr.status, function (name) {
      return event.detail.xhr.getResponseHeader(name);
    }, event.detail.xhr.responseURL);
  });
  var KEPT = " Kept in this browser.";

  // What a save's answer means. Only a response that says so counts as stored; a 200 alone
  // may be the login page after a redirect.
  function acknowledge(form, sent, status, header, url) {
    var revision = header("X-Answer-Saved");
    var redirect = header("HX-Redirect");
    if (revision) {
      known[formId(form)] = revision;
      drop(form, sent, revision);
      settled(form);
      if (fieldsOf(form) !== sent) setStatus(form, "muted", "Saving…");
    } else if (header("X-Answer-Refused")) {
      drop(form, sent);  // not storable as given: the server's message is shown instead
      settled(form);
    } else if (status === 401 || (url && url.indexOf(root.dataset.loginUrl) >= 0)) {
      signOut();
      retrying.set(form, Date.now());
      setStatus(form, "warn", SIGNED_OUT);
    } else if (redirect) {
      // The study sends the rater elsewhere first (training still to do): nothing was stored.
      retrying.delete(form);
      stopped.add(form);
      setStatus(form, "warn", "Not saved yet: the study has you do another item first." + KEPT +
        " It is saved when you open this item again.");
      if (!leaving) window.location.assign(redirect);
    } else if (status === 404 || status === 409 || status === 410) {
      retrying.delete(form);
      stopped.add(form);
      setStatus(form, "warn", "Not saved: this item is no longer open to you." + KEPT);
    } else if (status === 403) {
      // A stale CSRF token: the answers probe sets a fresh cookie, then this save is retried.
      if (retryLater(form, 5)) setStatus(form, "warn", "Not saved yet. Retrying…");
      else setStatus(form, "warn", "Not saved: the server refuses it." + KEPT + " Reload the page to try again.");
      probe();
    } else if (status >= 400 && status < 500 && status !== 429) {
      if (retryLater(form, 3)) {
        setStatus(form, "warn", "Not saved yet: the server answered " + status + ". Retrying…");
      } else {
        setStatus(form, "warn", "Not saved: the server answered " + status + "." + KEPT +
          " Reload the page to try again.");
      }
    } else {
      retryLater(form);
      setStatus(form, "warn", status >= 500 || status === 429
        ? "Not saved yet: the server has a problem. Retrying…"
        : "Not saved yet: no connection. Retrying…");
    }
    showPendingNotice();
  }

  // --- signed out, and signing in again without leaving the item
  function signOut() {
    if (signedOut) return;
    signedOut = true;
    var notice = document.getElementById("signed-out");
    if (notice) notice.hidden = false;
    showPendingNotice();
  }
  function signedIn() {
    if (!signedOut) return;
    signedOut = false;
    var notice = document.getElementById("signed-out");
    if (notice) notice.hidden = true;
    saveAllPending();
    showPendingNotice();
  }
  // Whether this browser is signed in; the answers it reads are compared by `reconcile`.
  function probe() {
    if (!root) return Promise.resolve(null);
    return fetch(root.dataset.answersUrl, {
      headers: { "X-Requested-With": "fetch" }, credentials: "same-origin", cache: "no-store"
    }).then(function (response) {
      if (response.status === 401) { signOut(); return null; }
      if (!response.ok) return null;
      return response.json().then(function (body) { signedIn(); return body; });
    }, function () { return null; });
  }

  var dialog = document.getElementById("sign-in");
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-sign-in]") && dialog) {
      dialog.querySelector("[data-sign-in-error]").hidden = true;
      dialog.showModal();
    } else if (event.target.closest("[data-sign-in-cancel]") && dialog) {
      dialog.close();
    }
  });
  if (dialog) {
    dialog.querySelector("[data-sign-in-form]").addEventListener("submit", function (event) {
      event.preventDefault();
      var form = event.target;
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
          error.textContent = "That user name and password did not sign you in. Try again.";
          error.hidden = false;
        }
      }, function () {
        error.textContent = "The server could not be reached. Try again in a moment.";
        error.hidden = false;
      });
    });
  }

  // --- other tabs: a newer stored answer replaces a stale "Saved"
  function reconcile(body) {
    if (!body) return false;
    var changedAny = false;
    questionForms().forEach(function (form) {
      var id = formId(form);
      var stored = body.answers[id];
      var revision = stored ? stored.revision : undefined;
      if (revision === known[id] || inflight.has(form)) return;
      var entry = entryOf(form);
      changedAny = true;
      known[id] = revision;
      if (conflicts.has(form)) {
        // Still the rater's choice, now between the kept answer and the newest stored one.
        applyFields(form, fieldsFromServer(stored && stored.fields));
        if (entry) { showConflict(form); return; }
        conflicts.delete(form);  // chosen in another tab
        setStatus(form, "ok", stored ? "Saved" : "");
        return;
      }
      if (entry && entry.tab === tabId) {
        setStatus(form, "warn", "Not saved yet.");
        note(form, "Also changed in another tab: the answer shown here is this tab's, " +
          "and is being saved over it.");
        return;
      }
      if (entry) {
        // The other tab's newer change is on its way (the storage event showed it here).
        setStatus(form, "muted", "Saving in another tab…");
      } else {
        applyFields(form, fieldsFromServer(stored && stored.fields));
        setStatus(form, "ok", stored ? "Saved" : "");
      }
      note(form, "Changed in another tab");
    });
    return changedAny;
  }
  function checkOtherTabs() {
    if (!root || document.visibilityState !== "visible") return;
    probe().then(reconcile);
  }
  window.addEventListener("focus", checkOtherTabs);
  document.addEventListener("visibilitychange", checkOtherTabs);
  // Another tab's change to this item, as it makes it (before its server has it).
  window.addEventListener("storage", function (event) {
    if (!event.key || event.key.indexOf(itemPrefix) !== 0) return;
    // Gone: the other tab's save was acknowledged; the server has the answer now.
    if (!event.newValue) { probe().then(reconcile); return; }
    questionForms().forEach(function (form) {
      if (storageKey(form) !== event.key) return;
      var entry = readEntry(event.key);
      if (!entry || entry.fields === fieldsOf(form)) return;
      conflicts.delete(form);  // the other tab answered; its answer is the one to save
      applyFields(form, JSON.parse(entry.fields));
      setStatus(form, "muted", "Saving in another tab…");
      note(form, "Changed in another tab");
    });
  });

  // --- the page going away: typed text goes at once, with a request that outlives the page
  function flush() {
    // Offline, it could not arrive: what waits stays kept for the next visit.
    if (signedOut || !navigator.onLine) return;
    questionForms().forEach(function (form) {
      var sent = fieldsOf(form);
      // Sent once though both events may come; sent even if htmx's request is on its way,
      // since that one dies with the page. Not a kept answer in conflict, nor one the server
      // will not take now.
      if (conflicts.has(form) || stopped.has(form)) return;
      if (!entryOf(form) || flushed.get(form) === sent) return;
      flushed.set(form, sent);
      var body = new FormData(form);
      body.set("csrfmiddlewaretoken", csrfToken());
      inflight.set(form, sent);
      fetch(form.getAttribute("action"), {
        method: "POST", body: body, keepalive: true, credentials: "same-origin",
        headers: { "HX-Request": "true", "X-CSRFToken": csrfToken() }
      }).then(function (response) {
        inflight.delete(form);
        acknowledge(form, sent, response.status, function (name) {
          return response.headers.get(name);
        }, response.url);
      }, function () { inflight.delete(form); retryLater(form); });
    });
  }
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") flush();
  });
  window.addEventListener("pagehide", function () { leaving = true; flush(); });

  // A kept answer awaiting the rater's choice waits just as well on a later visit: no warning.
  window.addEventListener("beforeunload", function (event) {
    var waiting = pendingForms().filter(function (form) { return !conflicts.has(form); });
    if (waiting.length) { event.preventDefault(); event.returnValue = ""; }
  });
  window.addEventListener("online", saveAllPending);
  var ticks = 0;
  setInterval(function () {
    ticks += 1;
    if (signedOut) { if (ticks % 3 === 0) probe(); return; }
    if (retrying.size && navigator.onLine) sendDue();
  }, 1000);

  // --- opening the item: answers an earlier visit left unsaved are restored and sent again,
  // silently only when the stored answer is still the one they were given over
  function restore() {
    if (!root || !kept.scope) return;
    kept.adoptRetired();
    var refused = 0;
    questionForms().forEach(function (form) {
      var entry = entryOf(form);
      if (!entry) return;
      if (form.querySelector("fieldset:disabled")) {
        // The study was locked meanwhile: the server refuses every change, so say so once.
        refused += 1;
        localStorage.removeItem(storageKey(form));
        return;
      }
      if (entry.fields === fieldsOf(form)) {
        // The page shows it: the server stored it (sent as the page went) but never said so.
        restored += 1;
        localStorage.removeItem(storageKey(form));
        setStatus(form, "ok", "Saved");
        return;
      }
      if ((entry.base || null) !== (known[formId(form)] || null)) {
        showConflict(form);
        return;
      }
      restored += 1;
      applyFields(form, JSON.parse(entry.fields));
      setStatus(form, "muted", "Saving…");
    });
    if (restored || conflicts.size) { showPendingNotice(); saveAllPending(); }
    if (refused) {
      var notice = document.getElementById("pending-notice");
      notice.hidden = false;
      notice.textContent = refused + (refused === 1 ? " answer" : " answers") +
        " from your last visit could not be saved before the study was locked, and cannot be now.";
    }
    kept.showOtherItems();
  }
  // The stored answer changed since the kept one was given (in another browser, say): the
  // page shows the stored one, and the rater chooses.
  function showConflict(form) {
    conflicts.add(form);
    setStatus(form, "warn", "An answer kept in this browser from an earlier visit differs " +
      "from this one, which was saved since.");
    var use = document.createElement("button");
    use.type = "button";
    use.className = "link";
    use.dataset.keptUse = "";
    use.textContent = "Use the kept answer";
    var discard = document.createElement("button");
    discard.type = "button";
    discard.className = "link";
    discard.dataset.keptDiscard = "";
    discard.textContent = "Keep this one";
    var status = form.querySelector(".status");
    if (status) status.append(" ", use, " · ", discard);
  }
  document.addEventListener("click", function (event) {
    var use = event.target.closest("[data-kept-use]");
    var discard = event.target.closest("[data-kept-discard]");
    var form = (use || discard) && (use || discard).closest("form[data-question]");
    if (!form || !conflicts.has(form)) return;
    conflicts.delete(form);
    var entry = entryOf(form);
    if (discard || !entry) {
      localStorage.removeItem(storageKey(form));
      setStatus(form, "ok", known[formId(form)] ? "Saved" : "");
    } else {
      applyFields(form, JSON.parse(entry.fields));
      setStatus(form, "muted", "Saving…");
      save(form);
    }
    showPendingNotice();
  });
  // --- time on task: what the page was visible for, sent with each save and with the submit
  var visibleSince = document.visibilityState === "visible" ? Date.now() : null;
  var unreported = 0;
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") { visibleSince = Date.now(); return; }
    if (visibleSince !== null) unreported += Date.now() - visibleSince;
    visibleSince = null;
  });
  function takeElapsed() {
    var now = Date.now();
    var elapsed = unreported + (visibleSince !== null ? now - visibleSince : 0);
    unreported = 0;
    if (visibleSince !== null) visibleSince = now;
    return Math.round(elapsed);
  }
  document.body.addEventListener("htmx:configRequest", function (event) {
    event.detail.parameters.elapsed_ms = takeElapsed();
  });

  // --- submitting: pending answers first, and never answers this tab did not show
  var submitForm = document.getElementById("submit");
  var submitting = false;
  function waitForSaves(deadline) {
    if (!pendingForms().length || signedOut || Date.now() > deadline) return Promise.resolve();
    return new Promise(function (resolve) { setTimeout(resolve, 200); }).then(function () {
      return waitForSaves(deadline);
    });
  }
  function questionName(form) {
    var legend = form.querySelector("legend");
    return legend ? legend.textContent.replace(/\s*\*\s*$/, "").trim() : formId(form);
  }
  function sayAtSubmit(text) {
    var line = submitForm.querySelector("[data-submit-status]");
    if (!line) return;
    line.textContent = text;
    line.hidden = !text;
  }
  if (submitForm) {
    submitForm.addEventListener("submit", function (event) {
      if (!root) {
        submitForm.querySelector("input[name=elapsed_ms]").value = takeElapsed();
        return;
      }
      event.preventDefault();
      if (submitting) return;
      if (conflicts.size) {
        sayAtSubmit("Not submitted: choose first whether to use the answer kept in this " +
          "browser for " + Array.from(conflicts).map(questionName).join("; ") + ".");
        return;
      }
      submitting = true;
      sayAtSubmit("");
      saveAllPending();
      waitForSaves(Date.now() + 5000).then(function () {
        var waiting = pendingForms();
        var left = waiting.length;
        if (signedOut) {
          throw new Error("You are signed out: sign in again to save your answers, then submit.");
        }
        if (left) {
          throw new Error("Not saved yet, so the item was not submitted: " +
            waiting.map(questionName).join("; ") + ". Try again in a moment.");
        }
        return probe();
      }).then(function (body) {
        if (!body) {
          throw new Error("The server could not be reached, so the item was not submitted. " +
            "Try again in a moment.");
        }
        if (reconcile(body)) {
          throw new Error("Answers were changed in another tab; they are shown now. " +
            "Check them and submit again.");
        }
        // The server refuses the submit if its answers differ from these (another tab's change
        // since this check); a page rendered without revisions leaves the check out.
        if (baseline) submitForm.querySelector("input[name=seen]").value = JSON.stringify(known);
        submitForm.querySelector("input[name=elapsed_ms]").value = takeElapsed();
        var token = csrfToken();
        if (token) submitForm.querySelector("input[name=csrfmiddlewaretoken]").value = token;
        submitForm.submit();  // no submit event: this handler does not run again
      }).catch(function (error) {
        submitting = false;
        sayAtSubmit(error.message);
      });
    });
  }

  // After htmx has set up the forms, or a replay would not be sent: htmx is a deferred script,
  // which sets them up on DOMContentLoaded, after this listener.
  function afterHtmx() { setTimeout(restore, 0); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", afterHtmx);
  else afterHtmx();
})();
