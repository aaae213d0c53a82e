"""Single sign-on with an OpenID Connect provider (docs/deployment.md): its configuration, the
authentication backends and the system check. The pages are in annotation.views.sso."""
