"""The claims the test provider puts in ID tokens and user info: what a hospital's directory
would send (username, e-mail and whether it was verified, groups)."""

from oauth2_provider.oauth2_validators import OAuth2Validator

from tests.support.oidc_provider.people import extra_claims


class ClaimsValidator(OAuth2Validator):
    oidc_claim_scope = {
        **OAuth2Validator.oidc_claim_scope,
        "email_verified": "email",
        "groups": "profile",
    }

    def get_additional_claims(self, request):
        user = request.user
        extra = extra_claims(user.get_username())
        return {
            "preferred_username": user.get_username(),
            "email": user.email,
            "email_verified": extra.get("email_verified", True),
            "groups": extra.get("groups", []),
        }
