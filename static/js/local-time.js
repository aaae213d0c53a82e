// Times the server writes in UTC (a <time data-local-time datetime="...">, such as when a
// reading session opens): shown in the reader's own time zone, the UTC text kept beside it when
// the two differ. Without script, or where the browser cannot say its zone, the UTC text stays.
// The element or a parent says the page's language (`data-locale`) and how to say "your time"
// in it (`data-your-time`, translated by the template): the date is written as that language writes
// dates, e.g. "6 December 2026, 15:00", "6. Dezember 2026, 15:00", "6 de diciembre de 2026, 15:00".
function localText(when, locale, yourTime) {
  var parts = {};
  var zone = "";
  var format = new Intl.DateTimeFormat(locale === "en" ? "en-GB" : locale, {
    day: "numeric", month: "long", year: "numeric", hour: "2-digit", minute: "2-digit",
    hourCycle: "h23", timeZoneName: "short",
  });
  var pieces = format.formatToParts(when).map(function (part) {
    parts[part.type] = part.value;
    if (part.type !== "timeZoneName") return part.value;
    zone = part.value === "GMT" ? "UTC" : part.value;
    return "";
  });
  // English as the server writes it ("6 December 2026, 15:00"); other languages as Intl does.
  var text = locale === "en"
    ? parts.day + " " + parts.month + " " + parts.year + ", " + parts.hour + ":" + parts.minute
    : pieces.join("").trim();
  return text + " " + zone + " (" + yourTime + ")";
}

document.querySelectorAll("time[data-local-time]").forEach(function (element) {
  var when = new Date(element.getAttribute("datetime"));
  if (isNaN(when.getTime()) || typeof Intl === "undefined") return;
  var utc = element.textContent;
  var local;
  try {
    var words = element.closest("[data-your-time]");
    // The nearest data-locale, else the page's language (<html lang>, set by base.html).
    var locale = (words && words.dataset.locale) || document.documentElement.lang || "en";
    local = localText(when, locale, words ? words.dataset.yourTime : "your time");
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
