"""Single sign-on without a browser: which account a sign-in reaches (services.accounts), the
system check, the sign-in's start and its `next`, the provider's configuration, the ID token's
audience, the callback's answers, passwords turned off, and django-axes beside it. That the
messages are marked for translation is in test_sso_translation.py; the flows through a real
provider are in test_browser_sso.py."""

from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
from axes.models import AccessAttempt
from cryptography.hazmat.primitives.asymmetric import rsa
from django.contrib.auth.models import Group
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import SuspiciousOperation, ValidationError

from annotation import services
from annotation.models import ExternalIdentity, Membership
from annotation.sso import provider
from annotation.sso.backends import OidcBackend
from annotation.sso.checks import sso_check
from annotation.sso.oidc import OidcSignIn
from tests.factories import PASSWORD, UserFactory
from tests.support.sso import ISSUER, person, sign_in_started

pytestmark = pytest.mark.django_db


# Which account a sign-in reaches


def test_the_first_sign_in_makes_an_account_and_the_next_finds_it_by_subject():
    first = services.sso_user_sign_in(issuer=ISSUER, claims=person(email="a@contoso.example"))
    assert (first.username, first.email) == ("alice", "a@contoso.example")
    assert not first.has_usable_password()
    # Renamed at the provider, new address: the same account, with the new address and the
    # username it had.
    again = services.sso_user_sign_in(
        issuer=ISSUER, claims=person(username="alice.new", email="alice@contoso.example")
    )
    assert again.pk == first.pk
    again.refresh_from_db()
    assert (again.username, again.email) == ("alice", "alice@contoso.example")
    assert ExternalIdentity.objects.get().last_sign_in_at is not None


def test_the_same_subject_at_another_provider_is_another_person():
    one = services.sso_user_sign_in(issuer=ISSUER, claims=person())
    other = services.sso_user_sign_in(issuer="https://other.example", claims=person())
    assert one.pk != other.pk
    assert other.username == "alice-2"


def test_a_username_held_by_a_local_account_is_not_taken_over():
    local = UserFactory(username="Alice", email="alice.local@hospital.example")
    user = services.sso_user_sign_in(issuer=ISSUER, claims=person(username="alice"))
    assert user.pk != local.pk
    assert user.username == "alice-2"
    local.refresh_from_db()
    assert local.check_password(PASSWORD)
    assert not local.external_identities.exists()


def test_an_address_the_provider_does_not_vouch_for_links_nothing():
    # SsoClaims.email is "" when the claim was not verified (test_sso_claims).
    local = UserFactory(username="bob", email="alice@contoso.example")
    user = services.sso_user_sign_in(issuer=ISSUER, claims=person(email=""))
    assert user.pk != local.pk
    assert user.email == ""


def test_a_verified_address_links_the_local_account_that_has_it():
    local = UserFactory(username="a.smith", email="Alice@Contoso.example")
    user = services.sso_user_sign_in(issuer=ISSUER, claims=person(email="alice@contoso.example"))
    assert user.pk == local.pk
    assert ExternalIdentity.objects.get(user=local).subject == "sub-1"


@pytest.mark.parametrize("rights", ["staff", "superuser", "study admins group", "study admin"])
def test_a_verified_address_never_links_an_account_with_admin_rights(rights, draft_study):
    user = UserFactory(
        username="root",
        email="alice@contoso.example",
        is_staff=rights == "staff",
        is_superuser=rights == "superuser",
    )
    if rights == "study admins group":
        user.groups.add(services.study_admins_group_ensure())
    if rights == "study admin":
        draft_study.memberships.create(user=user, role=Membership.Role.ADMIN)
    users = type(user).objects.count()
    with pytest.raises(ValidationError, match="administrator account"):
        services.sso_user_sign_in(issuer=ISSUER, claims=person(email="alice@contoso.example"))
    assert not ExternalIdentity.objects.exists()
    assert type(user).objects.count() == users  # no new account either


def test_a_verified_address_links_a_rater_of_a_study(draft_study):
    rater = UserFactory(username="r.smith", email="alice@contoso.example")
    draft_study.memberships.create(user=rater, role=Membership.Role.RATER, pseudonym="R9")
    user = services.sso_user_sign_in(issuer=ISSUER, claims=person(email="alice@contoso.example"))
    assert user.pk == rater.pk


def test_the_address_is_not_refreshed_to_one_another_account_has(caplog):
    UserFactory(username="root", email="IT@Contoso.example", is_staff=True, is_superuser=True)
    user = services.sso_user_sign_in(issuer=ISSUER, claims=person(email="alice@contoso.example"))
    services.sso_user_sign_in(issuer=ISSUER, claims=person(email="it@contoso.example"))
    user.refresh_from_db()
    assert user.email == "alice@contoso.example"
    assert "another account already has 'it@contoso.example'" in caplog.text
    # Its own address in another case is no one else's.
    services.sso_user_sign_in(issuer=ISSUER, claims=person(email="Alice@Contoso.example"))
    user.refresh_from_db()
    assert user.email == "Alice@Contoso.example"


def test_an_account_linked_to_someone_else_at_the_provider_is_not_linked_again():
    services.sso_user_sign_in(issuer=ISSUER, claims=person(email="alice@contoso.example"))
    with pytest.raises(ValidationError, match="already linked"):
        services.sso_user_sign_in(
            issuer=ISSUER, claims=person(subject="sub-2", email="alice@contoso.example")
        )


def test_two_accounts_with_the_address_are_not_chosen_between():
    UserFactory(username="one", email="alice@contoso.example")
    UserFactory(username="two", email="alice@contoso.example")
    with pytest.raises(ValidationError, match="More than one"):
        services.sso_user_sign_in(issuer=ISSUER, claims=person(email="alice@contoso.example"))


def test_a_deactivated_account_is_refused():
    user = services.sso_user_sign_in(issuer=ISSUER, claims=person())
    user.is_active = False
    user.save()
    with pytest.raises(ValidationError, match="deactivated"):
        services.sso_user_sign_in(issuer=ISSUER, claims=person())


def test_the_admin_claim_gives_and_takes_study_admin_rights_at_every_sign_in():
    user = services.sso_user_sign_in(issuer=ISSUER, claims=person(is_admin=True))
    assert user.has_perm("annotation.add_study")
    user = services.sso_user_sign_in(issuer=ISSUER, claims=person(is_admin=False))
    user = type(user).objects.get(pk=user.pk)  # permissions are cached on the instance
    assert not user.has_perm("annotation.add_study")


def test_without_an_admin_claim_rights_given_in_evalapp_stay():
    user = services.sso_user_sign_in(issuer=ISSUER, claims=person())
    user.groups.add(services.study_admins_group_ensure())
    services.sso_user_sign_in(issuer=ISSUER, claims=person(is_admin=None))
    assert user.groups.filter(name=services.STUDY_ADMINS_GROUP).exists()


def test_a_fresh_deployment_has_the_study_admins_group_with_its_permission():
    group = Group.objects.get(name="Study admins")
    assert list(group.permissions.values_list("codename", flat=True)) == ["add_study"]


# The system check


def test_without_a_client_id_nothing_is_reported(settings):
    settings.OIDC_RP_CLIENT_ID = ""
    assert sso_check() == []


def test_passwords_off_without_single_sign_on_is_a_warning(settings):
    settings.OIDC_RP_CLIENT_ID, settings.LOCAL_PASSWORDS = "", False
    assert [message.id for message in sso_check()] == ["annotation.W102"]


def test_a_complete_configuration_passes(sso_on):
    assert sso_check() == []
    sso_on.OIDC_OP_AUTHORIZATION_ENDPOINT = ""
    sso_on.OIDC_ISSUER = ISSUER
    assert sso_check() == []


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"OIDC_RP_CLIENT_SECRET": ""}, "OIDC_RP_CLIENT_SECRET is not set"),
        (
            {"OIDC_OP_TOKEN_ENDPOINT": ""},
            "OIDC_ISSUER is not set, and OIDC_OP_TOKEN_ENDPOINT is not set either",
        ),
        ({"OIDC_ADMIN_CLAIM": "groups"}, "OIDC_ADMIN_CLAIM and OIDC_ADMIN_VALUES go together"),
        ({"OIDC_ADMIN_VALUES": ["admins"]}, "OIDC_ADMIN_CLAIM and OIDC_ADMIN_VALUES go together"),
        ({"OIDC_RP_SIGN_ALGO": "none"}, "OIDC_RP_SIGN_ALGO='none'"),
    ],
)
def test_a_half_configured_single_sign_on_is_an_error_naming_the_setting(sso_on, change, words):
    for name, value in change.items():
        setattr(sso_on, name, value)
    messages = sso_check()
    assert [message.id for message in messages] == ["annotation.E101"]
    assert words in messages[0].msg


# The start of a sign-in, and its `next`


def test_the_start_is_not_found_without_single_sign_on(client, settings):
    settings.OIDC_RP_CLIENT_ID = ""
    assert client.get("/oidc/authenticate/").status_code == 404
    assert client.get("/oidc/callback/?code=a&state=b").status_code == 404


def test_the_start_sends_the_browser_to_the_provider_with_pkce_state_and_nonce(client, sso_on):
    response = client.get("/oidc/authenticate/", {"next": "/rate/?page=2"})
    assert response.status_code == 302
    url = urlsplit(response["Location"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == "https://idp.example/authorize"
    query = parse_qs(url.query)
    assert query["client_id"] == ["evalapp"]
    assert query["scope"] == ["openid email profile"]
    assert query["redirect_uri"] == ["http://testserver/oidc/callback/"]
    assert query["code_challenge_method"] == ["S256"]
    assert query["state"][0] in client.session["oidc_states"]
    assert query["nonce"]
    assert client.session["oidc_login_next"] == "/rate/?page=2"


@pytest.mark.parametrize(
    "unsafe",
    ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"],
)
def test_a_next_off_this_site_is_not_kept(client, sso_on, unsafe):
    response = client.get("/oidc/authenticate/", {"next": unsafe})
    assert response.status_code == 302
    assert client.session["oidc_login_next"] is None


def test_a_provider_that_cannot_be_reached_gets_a_page_saying_so(client, sso_on):
    sso_on.OIDC_OP_AUTHORIZATION_ENDPOINT = ""
    sso_on.OIDC_ISSUER = "http://127.0.0.1:9"  # discard port: nothing listens
    response = client.get("/oidc/authenticate/")
    assert response.status_code == 503
    # Said plainly; the address is the operator's (test_sso_failure_pages.py).
    assert "The sign-in service could not be reached" in response.content.decode()


def test_the_discovery_document_is_read_once_and_must_name_the_issuer(sso_on, monkeypatch):
    sso_on.OIDC_ISSUER, sso_on.OIDC_OP_AUTHORIZATION_ENDPOINT = ISSUER, ""
    document = {
        "issuer": ISSUER,
        "authorization_endpoint": "https://login.contoso.example/authorize",
        "end_session_endpoint": "https://login.contoso.example/logout",
    }
    reads = []

    class Answer:
        def raise_for_status(self):
            pass

        def json(self):
            return document

    def get(url, timeout):
        reads.append(url)
        return Answer()

    monkeypatch.setattr(requests, "get", get)  # as provider reads it
    config = provider.provider_config()
    provider.provider_config()
    assert reads == [ISSUER + "/.well-known/openid-configuration"]
    assert config.authorization_endpoint == "https://login.contoso.example/authorize"
    assert config.token_endpoint == "https://idp.example/token"  # set explicitly: it wins
    provider.discovery_forget()
    document["issuer"] = "https://attacker.example"
    with pytest.raises(provider.ProviderUnavailable, match="names the issuer"):
        provider.provider_config()


def test_endpoints_set_by_hand_sign_in_without_reading_the_discovery_document(client, sso_on):
    # An issuer whose discovery document cannot be read, and no logout endpoint: the sign-in
    # needs neither.
    sso_on.OIDC_ISSUER = "http://127.0.0.1:9"  # discard port: nothing listens
    sso_on.OIDC_OP_LOGOUT_ENDPOINT = ""
    response = client.get("/oidc/authenticate/")
    assert response.status_code == 302
    assert response["Location"].startswith("https://idp.example/authorize?")
    # Signing out looks for the provider's logout endpoint only now; without it, the page says
    # the provider's session may live on (test_sso_failure_pages.py).
    signed_in_through_the_provider(client, UserFactory(username="hal"))
    response = client.post("/accounts/logout/")
    assert response.status_code == 200
    assert response.context["provider_unreached"] is True
    assert "_auth_user_id" not in client.session


def test_the_logout_endpoint_is_read_from_the_discovery_document_at_sign_out(
    client, sso_on, monkeypatch
):
    sso_on.OIDC_ISSUER, sso_on.OIDC_OP_LOGOUT_ENDPOINT = ISSUER, ""
    reads = []
    document = {"issuer": ISSUER, "end_session_endpoint": "https://login.contoso.example/bye"}
    monkeypatch.setattr(
        provider, "_discovery_read", lambda issuer: reads.append(issuer) or document
    )
    assert client.get("/oidc/authenticate/").status_code == 302
    assert reads == []
    signed_in_through_the_provider(client, UserFactory(username="ivy"))
    response = client.post("/accounts/logout/")
    assert response.context["target"].startswith("https://login.contoso.example/bye?")
    assert reads == [ISSUER]


# The ID token


def test_an_id_token_for_another_client_or_from_another_issuer_is_refused(sso_on, monkeypatch):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    backend = OidcSignIn()
    backend.configure(provider.ProviderConfig(ISSUER, "https://a", "https://t", "", "https://j"))
    monkeypatch.setattr(backend, "retrieve_matching_jwk", lambda token: key.public_key())

    def token(**claims):
        body = {"iss": ISSUER, "aud": "evalapp", "sub": "1", "nonce": "n", **claims}
        return jwt.encode(body, key, algorithm="RS256")

    assert backend.verify_token(token(), nonce="n")["sub"] == "1"
    assert backend.verify_token(token(aud=["other", "evalapp"]), nonce="n")["sub"] == "1"
    with pytest.raises(SuspiciousOperation, match="another client"):
        backend.verify_token(token(aud="other-app"), nonce="n")
    with pytest.raises(SuspiciousOperation, match="another provider"):
        backend.verify_token(token(iss="https://other.example"), nonce="n")
    with pytest.raises(SuspiciousOperation, match="Nonce"):
        backend.verify_token(token(), nonce="replayed")


# Passwords turned off, and django-axes


def test_with_passwords_off_a_password_is_refused_on_the_sign_in_page(client, settings):
    settings.LOCAL_PASSWORDS = False
    UserFactory(username="carol")
    response = client.post("/accounts/login/", {"username": "carol", "password": PASSWORD})
    assert response.status_code == 403
    assert "turned off" in response.content.decode()
    assert "_auth_user_id" not in client.session
    # Recorded as a failed sign-in, which django-axes counts like a wrong password.
    assert AccessAttempt.objects.filter(username="carol").count() == 1
    assert 'id="id_password"' not in client.get("/accounts/login/").content.decode()


def test_with_passwords_off_only_a_superuser_signs_in_at_the_admin(client, settings):
    settings.LOCAL_PASSWORDS = False
    UserFactory(username="staffer", is_staff=True)
    UserFactory(username="root", is_staff=True, is_superuser=True)
    client.post("/admin/login/", {"username": "staffer", "password": PASSWORD})
    assert "_auth_user_id" not in client.session
    response = client.post("/admin/login/", {"username": "root", "password": PASSWORD})
    assert response.status_code == 302
    assert client.session["_auth_user_id"]


def test_with_passwords_off_an_invitation_makes_no_password_account(
    client, settings, draft_study, study_admin
):
    settings.LOCAL_PASSWORDS = False
    invitation = draft_study.invitations.create(email="new@contoso.example", created_by=study_admin)
    response = client.post(
        f"/invite/{invitation.token}/",
        {"username": "newbie", "password1": "Long-enough-pass1", "password2": "Long-enough-pass1"},
    )
    assert response.status_code == 403
    assert not UserFactory._meta.model.objects.filter(username="newbie").exists()


def test_a_failed_single_sign_on_is_signalled_but_not_counted_by_axes(client, sso_on):
    failures = []

    def record(sender, credentials, **kwargs):
        failures.append(credentials)

    user_login_failed.connect(record, dispatch_uid="test-sso-record")
    try:
        response = client.get("/oidc/callback/", {"code": "c", "state": "never-issued"})
    finally:
        user_login_failed.disconnect(dispatch_uid="test-sso-record")
    assert response.status_code == 400
    assert failures == [
        {
            "method": "oidc",
            "issuer": "",
            "username": "",
            "subject": "",
            "reason": "unknown state",
        }
    ]
    assert not AccessAttempt.objects.exists()
    # A wrong password still is.
    UserFactory(username="dave")
    client.post("/accounts/login/", {"username": "dave", "password": "wrong"})
    assert AccessAttempt.objects.filter(username="dave").count() == 1


# The provider's answer (the callback)


class FailedSignIns:
    """The credentials of every `user_login_failed` sent meanwhile."""

    def __enter__(self) -> list[dict]:
        self.failures: list[dict] = []
        user_login_failed.connect(self._record, dispatch_uid="test-sso-failures")
        return self.failures

    def __exit__(self, *exc) -> None:
        user_login_failed.disconnect(dispatch_uid="test-sso-failures")

    def _record(self, sender, credentials, **kwargs) -> None:
        self.failures.append(credentials)


def test_an_error_answer_to_a_sign_in_not_started_here_shows_none_of_its_text(client, sso_on):
    with FailedSignIns() as failures:
        response = client.get(
            "/oidc/callback/",
            {
                "state": "forged",
                "error": "access_denied",
                "error_description": "Your account is locked. Call 0900 123 456 to unlock it.",
            },
        )
    page = response.content.decode()
    assert response.status_code == 400
    assert "does not belong to a sign-in started in this browser" in page
    assert "0900" not in page
    assert "access_denied" not in page
    assert [failure["reason"] for failure in failures] == ["unknown state"]


def test_an_error_answer_to_this_browsers_sign_in_shows_only_a_standard_code(
    client, sso_on, caplog
):
    description = "Your account is locked. Call 0900 123 456 to unlock it. " + "x" * 400
    with FailedSignIns() as failures:
        response = client.get(
            "/oidc/callback/",
            {
                "state": sign_in_started(client),
                "error": "access_denied",
                "error_description": description,
            },
        )
    page = response.content.decode()
    assert response.status_code == 403
    assert "did not sign you in (access_denied)" in page
    assert "0900" not in page
    assert [failure["reason"] for failure in failures] == ["provider error: access_denied"]
    # The operator still reads what the provider said, cut short.
    logged = [record.getMessage() for record in caplog.records if "0900" in record.getMessage()]
    assert len(logged) == 1
    assert "x" * 240 in logged[0]
    assert "x" * 400 not in logged[0]


def test_a_non_standard_error_code_is_not_shown(client, sso_on):
    with FailedSignIns() as failures:
        response = client.get(
            "/oidc/callback/",
            {"state": sign_in_started(client), "error": "Visit evil.example to fix your account"},
        )
    page = response.content.decode()
    assert response.status_code == 403
    assert "did not sign you in. Try again" in page
    assert "evil.example" not in page
    assert [failure["reason"] for failure in failures] == ["provider error: non-standard code"]


def test_an_answer_already_used_is_refused_when_sent_again(client, sso_on, monkeypatch):
    user = UserFactory(username="grace")
    calls = []

    def authenticate(backend, request, oidc_attempt=None, **credentials):
        # The provider's part (the code exchanged for a verified ID token) is the browser
        # tests'; here it always succeeds.
        calls.append(oidc_attempt)
        return user

    monkeypatch.setattr(OidcBackend, "authenticate", authenticate)
    answer = {"state": sign_in_started(client), "code": "the-code"}
    response = client.get("/oidc/callback/", answer)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)
    with FailedSignIns() as failures:
        response = client.get("/oidc/callback/", answer)
    assert response.status_code == 400
    assert "or it was already used" in response.content.decode()
    assert len(calls) == 1
    assert [failure["reason"] for failure in failures] == ["unknown state"]


# Signing out


def signed_in_through_the_provider(client, user) -> None:
    client.force_login(user, backend="annotation.sso.backends.OidcBackend")
    session = client.session
    session["oidc_id_token"] = "the.id.token"
    session.save()


def test_signing_out_after_a_single_sign_on_also_signs_out_at_the_provider(client, sso_on):
    signed_in_through_the_provider(client, UserFactory(username="erin"))
    response = client.post("/accounts/logout/")
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    target = response.context["target"]
    url = urlsplit(target)
    assert f"{url.scheme}://{url.netloc}{url.path}" == "https://idp.example/logout"
    assert parse_qs(url.query) == {
        "id_token_hint": ["the.id.token"],
        "client_id": ["evalapp"],
        "post_logout_redirect_uri": ["http://testserver/accounts/login/"],
    }
    assert f'content="0;url={target.replace("&", "&amp;")}"' in response.content.decode()


def test_signing_out_stays_here_without_provider_logout_or_single_sign_on(client, sso_on):
    sso_on.OIDC_PROVIDER_LOGOUT = False
    signed_in_through_the_provider(client, UserFactory(username="erin"))
    response = client.post("/accounts/logout/")
    assert (response.status_code, response["Location"]) == (302, "/accounts/login/")
    assert "_auth_user_id" not in client.session
    # A password sign-in has no provider session to end.
    sso_on.OIDC_PROVIDER_LOGOUT = True
    client.force_login(UserFactory(username="frank"))
    response = client.post("/accounts/logout/")
    assert (response.status_code, response["Location"]) == (302, "/accounts/login/")
