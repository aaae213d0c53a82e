// Times the server writes in UTC (a <time data-local-time datetime="...">, such as when a
// reading session opens): shown in the reader's own time zone, the UTC text kept beside it when
// the two differ. Without script, or where the browser cannot say its zone, the UTC text stays.
// The format follows the page's language (<html lang>); "(your time)" comes translated from the
// page (<body data-your-time>).
var pageLanguage = document.documentElement.lang || "en";
var yourTime = document.body.getAttribute("data-your-time") || "your time";

function localText(when) {
  var parts = {};
  new Intl.DateTimeFormat(pageLanguage === "en" ? "en-GB" : pageLanguage, {
    day: "numeric", month: "long", year: "numeric", hour: "2-digit", minute: "2-digit",
    hourCycle: "h23", timeZoneName: "short",
  }).formatToParts(when).forEach(function (part) { parts[part.type] = part.value; });
  return parts.day + " " + parts.month + " " + parts.year + ", " + parts.hour + ":" +
    parts.minute + " " + (parts.timeZoneName === "GMT" ? "UTC" : parts.timeZoneName) +
    " (" + yourTime + ")";
}

document.querySelectorAll("time[data-local-time]").forEach(function (element) {
  var when = new Date(element.getAttribute("datetime"));
  if (isNaN(when.getTime()) || typeof Intl === "undefined") return;
  var utc = element.textContent;
  var local;
  try {
    local = localText(when);
  } catch (e) {
    return;
  }
  element.title = utc;
  if (when.getTimezoneOffset() === 0) return;  // the reader's time is UTC: as written
  element.textContent = local;
  var note = document.createElement("span");
  note.setAttribute("data-utc-time", "");
  note.textContent = " (" + utc + ")";
  element.after(note);
});
