"""A real OpenID Connect provider for the single sign-on tests: django-oauth-toolkit in a Django
project of its own (settings, URLs, a sign-in page, SQLite in a temporary folder), run in a
process of its own by tests/support/oidc_server.py. It never sees evalapp's database."""
