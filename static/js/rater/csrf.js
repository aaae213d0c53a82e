// Django rotates the CSRF token at login: the page's copy is stale after signing in again,
// the cookie is not.
export function csrfToken() {
  var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}
