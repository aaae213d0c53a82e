// What waits to be saved, question form by question form: the answer kept in this browser, the
// save on its way, the next try after a failed one, and the kept answers not sent by themselves.
import { questionForms } from "./forms.js";
import { entryOf } from "./kept.js";

export var inflight = new Map();  // form -> the fields of the save on its way
export var retrying = new Map();  // form -> when to send again, after a failed save
var attempts = new Map();         // form -> failed saves in a row
export var stopped = new Set();   // forms not sent again by themselves (gone, redirected, refused)
export var conflicts = new Set(); // forms whose kept answer was based on an answer since changed

export function pendingForms() {
  return questionForms().filter(function (form) { return entryOf(form) || inflight.has(form); });
}

// Sent again later, waiting longer after each failure (up to 30 s); after `limit` failures
// in a row it is left kept, and the rater told.
export function retryLater(form, limit) {
  var n = (attempts.get(form) || 0) + 1;
  attempts.set(form, n);
  if (limit && n >= limit) { retrying.delete(form); stopped.add(form); return false; }
  retrying.set(form, Date.now() + Math.min(30000, 1500 * Math.pow(2, n - 1)));
  return true;
}
export function settled(form) {
  retrying.delete(form);
  attempts.delete(form);
  stopped.delete(form);
}
