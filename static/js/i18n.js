// What the page's scripts show, in the reader's language: Django's JavaScript catalogue (the
// djangojs domain, served at /jsi18n/) is loaded as a classic script before the modules and
// defines `window.gettext` and `window.ngettext`. Without it (it failed to load) the English
// text stands, and the page works as before. Each message is one whole sentence with named
// placeholders, `%(name)s`, filled in by `interpolate`.
export function gettext(message) {
  return typeof window.gettext === "function" ? window.gettext(message) : message;
}

export function ngettext(singular, plural, count) {
  if (typeof window.ngettext === "function") return window.ngettext(singular, plural, count);
  return count === 1 ? singular : plural;
}

// `%(name)s` replaced by `values[name]`, as Python's % does; an unknown name is left as it is.
export function interpolate(message, values) {
  return message.replace(/%\((\w+)\)s/g, function (whole, name) {
    return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : whole;
  });
}
