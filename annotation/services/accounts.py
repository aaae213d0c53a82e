"""Accounts: the "Study admins" group, and the account a single sign-on signs in (found by the
provider's subject identifier, made at the first sign-in, its e-mail address and admin rights
brought up to date at every one)."""

import logging

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy

from annotation.core import audit
from annotation.core.sso import SsoClaims, username_free
from annotation.models import ExternalIdentity, Membership
from annotation.services import audit_accounts

logger = logging.getLogger(__name__)

# Members may create studies (the permission annotation.add_study); made at every migrate.
STUDY_ADMINS_GROUP = "Study admins"


def study_admins_group_ensure() -> Group:
    """The "Study admins" group, with the permission to add studies: on a fresh deployment too,
    not only where the demo was loaded."""
    permission = Permission.objects.get(content_type__app_label="annotation", codename="add_study")
    with audit_accounts.app_group_setup():
        group, created = Group.objects.get_or_create(name=STUDY_ADMINS_GROUP)
        if created:
            group.permissions.add(permission)
    if not created:
        # Given back after someone took it away: that is recorded.
        group.permissions.add(permission)
    return group


def sso_user_sign_in(*, issuer: str, claims: SsoClaims) -> AbstractBaseUser:
    """The account for this person at this provider, made if there is none; ValidationError
    saying why when they may not sign in. A race of two first sign-ins makes one account."""
    # An account made here, and admin rights the provider's claim gives or takes, are recorded
    # (services.audit_accounts) as done by single sign-on: no user is signed in yet.
    now = audit.acting_now()
    by_provider = audit.Acting(
        via=now.via, address=now.address, username=f"single sign-on ({issuer})"[:150]
    )
    with audit.acting_as(by_provider):
        try:
            return _sso_user_sign_in(issuer, claims)
        except IntegrityError:
            # Another request made the identity (or took the username) in between: once
            # more, which now finds it.
            return _sso_user_sign_in(issuer, claims)


@transaction.atomic
def _sso_user_sign_in(issuer: str, claims: SsoClaims) -> AbstractBaseUser:
    identity = (
        ExternalIdentity.objects.select_for_update()
        .select_related("user")
        .filter(issuer=issuer, subject=claims.subject)
        .first()
    )
    if identity is None:
        identity = ExternalIdentity(issuer=issuer, subject=claims.subject)
        identity.user = _account_for_new_identity(issuer, claims)
    user = identity.user
    if not user.is_active:
        raise ValidationError(
            gettext_lazy(
                "Your evalapp account is deactivated. Ask the site's administrator to "
                "reactivate it."
            )
        )
    identity.last_sign_in_at = timezone.now()
    identity.save()
    _account_update(user, claims)
    return user


def _account_for_new_identity(issuer: str, claims: SsoClaims) -> AbstractBaseUser:
    """An existing account when the provider vouches for its address and nothing speaks
    against it; otherwise a new account."""
    users = get_user_model().objects
    if claims.email:
        same = list(users.filter(email__iexact=claims.email)[:2])
        if len(same) > 1:
            raise ValidationError(
                gettext_lazy(
                    "More than one evalapp account has your e-mail address, so none is chosen "
                    "for you. Ask the site's administrator to link your sign-in to one of them."
                )
            )
        if same:
            return _account_linkable(same[0], issuer)
    taken = set(
        users.filter(username__istartswith=claims.username).values_list("username", flat=True)
    )
    return users.create_user(username=username_free(claims.username, taken))


def _account_linkable(user: AbstractBaseUser, issuer: str) -> AbstractBaseUser:
    if _has_admin_rights(user):
        # An address is not enough to hand over the keys of the site, or of a study.
        raise ValidationError(
            gettext_lazy(
                "An administrator account of this site has your e-mail address: it is not linked "
                "to single sign-on automatically. Ask the site's administrator to link it."
            )
        )
    if user.external_identities.filter(issuer=issuer).exists():
        raise ValidationError(
            gettext_lazy(
                "The evalapp account with your e-mail address is already linked to another sign-in "
                "at this provider. Ask the site's administrator."
            )
        )
    return user


def _has_admin_rights(user: AbstractBaseUser) -> bool:
    """Staff, a superuser, a member of "Study admins", or an admin of some study."""
    return (
        user.is_staff
        or user.is_superuser
        or user.groups.filter(name=STUDY_ADMINS_GROUP).exists()
        or user.memberships.filter(role=Membership.Role.ADMIN).exists()
    )


def _account_update(user: AbstractBaseUser, claims: SsoClaims) -> None:
    """E-mail address and admin rights as the provider says now (the username stays)."""
    if claims.email and claims.email != user.email:
        _email_update(user, claims.email)
    if claims.is_admin is None:
        return  # admin rights are given in evalapp, not by the provider
    group = study_admins_group_ensure()
    if claims.is_admin:
        user.groups.add(group)
    else:
        user.groups.remove(group)


def _email_update(user: AbstractBaseUser, email: str) -> None:
    """The provider's new address, unless another account has it (any case): two accounts with
    one address would make invitations and linking by address ambiguous."""
    users = get_user_model().objects
    if users.filter(email__iexact=email).exclude(pk=user.pk).exists():
        logger.warning(
            "Single sign-on: %r keeps the address %r: another account already has %r.",
            user.get_username(),
            user.email,
            email,
        )
        return
    user.email = email
    user.save(update_fields=["email"])
