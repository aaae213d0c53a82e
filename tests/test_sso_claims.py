"""What a provider's claims say about a person (annotation.core.sso): no database, no provider."""

import pytest

from annotation.core.sso import ClaimRules, ClaimsRefused, claims_read, username_free

RULES = ClaimRules(admin_claim="groups", admin_values=("evalapp-admins", "Radiology leads"))


def claims(**extra) -> dict:
    return {"sub": "248289761001", "preferred_username": "j.doe", **extra}


def test_the_username_comes_from_the_configured_claim():
    rules = ClaimRules(username_claim="upn")
    person = claims_read(claims(upn="jane.doe@contoso.example"), rules)
    assert person.username == "jane.doe@contoso.example"
    assert person.subject == "248289761001"


def test_characters_a_username_cannot_hold_are_replaced():
    person = claims_read(claims(preferred_username=" Jane Doe/ICU "), ClaimRules())
    assert person.username == "Jane_Doe_ICU"


def test_a_missing_username_claim_is_refused_naming_the_claim():
    with pytest.raises(ClaimsRefused, match="'preferred_username' claim"):
        claims_read({"sub": "1", "email": "a@b.example"}, ClaimRules())


def test_a_missing_subject_is_refused():
    with pytest.raises(ClaimsRefused, match="'sub'"):
        claims_read({"preferred_username": "j.doe"}, ClaimRules())


@pytest.mark.parametrize(
    ("verified", "trusted", "expected"),
    [
        (True, False, "jane@contoso.example"),
        ("true", False, "jane@contoso.example"),
        (False, False, ""),
        (None, False, ""),
        (False, True, "jane@contoso.example"),
        (None, True, "jane@contoso.example"),
    ],
)
def test_the_address_is_taken_only_when_the_provider_vouches_for_it(verified, trusted, expected):
    raw = claims(email="jane@contoso.example")
    if verified is not None:
        raw["email_verified"] = verified
    person = claims_read(raw, ClaimRules(trust_unverified_email=trusted))
    assert person.email == expected


def test_the_email_claim_can_be_another_one():
    raw = claims(mail="jane@contoso.example", email="other@x.example", email_verified=True)
    assert claims_read(raw, ClaimRules(email_claim="mail")).email == "jane@contoso.example"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"xms_edov": True}, "jane@contoso.example"),
        ({"xms_edov": "true"}, "jane@contoso.example"),
        ({"xms_edov": False}, ""),
        # email_verified, when sent, is the provider's word: xms_edov does not overrule it.
        ({"xms_edov": True, "email_verified": False}, ""),
    ],
)
def test_entras_domain_owner_verified_claim_vouches_for_the_address(extra, expected):
    person = claims_read(claims(email="jane@contoso.example", **extra), ClaimRules())
    assert person.email == expected


def test_an_address_longer_than_the_field_is_taken_as_none():
    longest = "a" * 64 + "@" + "b" * 185 + ".org"  # 254 characters
    raw = claims(email=longest, email_verified=True)
    assert claims_read(raw, ClaimRules()).email == longest
    raw = claims(email="a" + longest, email_verified=True)
    assert claims_read(raw, ClaimRules()).email == ""


@pytest.mark.parametrize(
    ("value", "is_admin"),
    [
        (["staff", "evalapp-admins"], True),
        (["Radiology leads"], True),
        (["staff"], False),
        ([], False),
        ("evalapp-admins", True),
        ("staff evalapp-admins", True),
        ("staff,evalapp-admins", True),
        ("evalapp-admins-old", False),
        (None, False),
    ],
)
def test_the_admin_claim_is_read_as_a_list_or_a_string(value, is_admin):
    raw = claims() if value is None else claims(groups=value)
    assert claims_read(raw, RULES).is_admin is is_admin


def test_a_dotted_admin_claim_reads_nested_claims():
    rules = ClaimRules(admin_claim="realm_access.roles", admin_values=("evalapp-admin",))
    assert claims_read(claims(realm_access={"roles": ["evalapp-admin"]}), rules).is_admin
    assert not claims_read(claims(realm_access={"roles": ["user"]}), rules).is_admin
    assert not claims_read(claims(realm_access="evalapp-admin x"), rules).is_admin
    flat = ClaimRules(admin_claim="https://contoso.example/roles", admin_values=("admin",))
    assert claims_read(claims(**{"https://contoso.example/roles": ["admin"]}), flat).is_admin


def test_without_an_admin_claim_admin_rights_are_not_the_providers_to_give():
    assert claims_read(claims(groups=["evalapp-admins"]), ClaimRules()).is_admin is None


def test_a_username_taken_gets_the_first_free_number_whatever_the_case():
    assert username_free("alice", set()) == "alice"
    assert username_free("alice", {"Alice"}) == "alice-2"
    assert username_free("alice", {"alice", "alice-2", "ALICE-3"}) == "alice-4"
    assert len(username_free("a" * 150, {"a" * 150})) == 150
