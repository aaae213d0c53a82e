"""REST API v1 of reader studies (see docs/api.md): token or session authentication, a
study's admins, its raters and everyone else kept apart by `access`."""
