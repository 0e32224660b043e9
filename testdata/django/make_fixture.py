#!/usr/bin/env python3
"""Makes what authd's import test reads, with the original service's own code.

    cd testdata/django
    DJANGO_DB_PATH=/tmp/x/original.db DJANGO_SECRET_KEY=... /usr/bin/python3 make_fixture.py OUTDIR

It migrates a new SQLite database (DJANGO_DB_PATH must not exist yet), creates users with every
hasher Django has and the records an import must skip, issues simplejwt tokens (blacklisting and
expiring some), and writes

- OUTDIR/dump.json: `manage.py dumpdata accounts social_django token_blacklist`, as a team moving
  to authd would run it;
- OUTDIR/manifest.json: for each user its pk, email, plaintext password, hasher, what the import
  must do with it (import it, or skip it and why), its tokens, and the SECRET_KEY that signed them.

Nothing here is hand-written that Django would write itself, but for the scrypt hash (see
scrypt_hash).
"""
import base64
import hashlib
import json
import os
import sys
import uuid
from datetime import timedelta

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.hashers import check_password, make_password  # noqa: E402
from django.core.exceptions import ValidationError  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.core.validators import validate_email  # noqa: E402
from django.utils import timezone  # noqa: E402
from django.utils.crypto import get_random_string  # noqa: E402
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken  # noqa: E402
from rest_framework_simplejwt.exceptions import TokenError  # noqa: E402
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken  # noqa: E402
from rest_framework_simplejwt.utils import datetime_from_epoch  # noqa: E402

from accounts.models import User  # noqa: E402
from social_django.models import UserSocialAuth  # noqa: E402


def scrypt_hash(password):
    """Django 4.0's ScryptPasswordHasher encoding, which Django 3.2 lacks: its defaults
    (N=2**14, r=8, p=1, a 22-character salt from get_random_string, a 64-byte key), written
    "scrypt$<N>$<salt>$<r>$<p>$<base64 hash>" as its encode() writes it."""
    n, r, p = 2**14, 8, 1
    salt = get_random_string(22)
    key = hashlib.scrypt(password.encode(), salt=salt.encode(), n=n, r=r, p=p, maxmem=0, dklen=64)
    return "scrypt$%d$%s$%d$%d$%s" % (n, salt, r, p, base64.b64encode(key).decode("ascii").strip())


def ordered_pk(first):
    """A random UUID that sorts first (or last) in the dump, which dumpdata orders by pk: of two
    records that clash, the import keeps the one it reads first."""
    s = uuid.uuid4().hex
    return uuid.UUID(("0" if first else "f") + s[1:])


def main(outdir):
    db = settings.DATABASES["default"]["NAME"]
    if os.path.exists(db):
        sys.exit(f"{db} exists: make_fixture.py makes a new database")
    os.makedirs(outdir, exist_ok=True)
    call_command("migrate", verbosity=0)

    manifest = {"secret_key": settings.SECRET_KEY, "users": []}
    now = timezone.now()

    def user(email, password, hasher, expect="imported", skip=None, save_unchecked=False, pk=None, **fields):
        """Creates a user as the original did (full_clean, then save), or with save_unchecked as
        a record that slipped past its validation would have been (a shell, a data migration)."""
        fields.setdefault("first_name", "Test")
        fields.setdefault("last_name", email.split("@")[0].title())
        fields.setdefault("email_verified", True)
        u = User(email=email, **fields)
        if pk is not None:
            u.id = pk
        if hasher == "unusable":
            u.set_unusable_password()
        elif hasher == "scrypt":
            u.password = scrypt_hash(password)
        else:
            u.password = make_password(password, hasher=hasher)
            assert u.password.startswith(hasher + "$"), u.password
            assert check_password(password, u.password)
        if not save_unchecked:
            u.full_clean()
        u.save()
        entry = {
            "pk": str(u.pk),
            "email": email,
            "password": password,
            "hasher": hasher,
            "active": u.is_active,
            "email_verified": u.email_verified,
            "phone_no": u.phone_no,
            "date_joined": u.date_joined.isoformat(),
            "expect": expect,  # imported | skipped
            "skip": skip,  # why, when skipped: invalid_email | email_taken | invalid_phone | phone_taken
            "tokens": {},
        }
        manifest["users"].append(entry)
        return u, entry

    # One user per hasher, each with its own password; phone numbers as the original stored them.
    first, first_entry = user("pbkdf2@example.com", "correct horse battery staple", "pbkdf2_sha256",
                              pk=ordered_pk(True), phone_no="+14155550101",
                              address="1 Infinite Loop\nCupertino, CA")
    user("pbkdf2sha1@example.com", "sha1 is not dead yet", "pbkdf2_sha1", phone_no="+442071838750")
    argon, argon_entry = user("argon2@example.com", "memory hard and proud", "argon2", phone_no="+14155550102")
    user("bcryptsha256@example.com", "bcrypt, pre-hashed " + "x" * 80, "bcrypt_sha256")
    user("bcrypt@example.com", "plain old bcrypt", "bcrypt", first_name="Bea", last_name="Crypt")
    user("scrypt@example.com", "scrypt from django four", "scrypt")
    user("unicode@example.com", "pässwörd ünïcødé 🔑 日本語", "pbkdf2_sha256", first_name="Zoë", last_name="Ñúñez")
    # No usable password (as python-social-auth makes its users, or set_unusable_password()).
    user("unusable@example.com", "", "unusable")
    inactive, inactive_entry = user("inactive@example.com", "deactivated by staff", "pbkdf2_sha256", is_active=False)
    user("verified@example.com", "i proved my address", "pbkdf2_sha256", email_verified=True)
    user("unverified@example.com", "i never clicked the link", "pbkdf2_sha256", email_verified=False)

    # A Google user of python-social-auth (who also set a password), and a link authd does not take.
    google, google_entry = user("google@example.com", "google and a password", "pbkdf2_sha256", first_name="Goo", last_name="Gle")
    sub = "1" + "".join(str((7 * i + 3) % 10) for i in range(20))  # Google subs are 21 digits
    UserSocialAuth.objects.create(user=google, provider="google-oauth2", uid=sub,
                                  extra_data={"auth_time": int(now.timestamp()), "token_type": "Bearer"})
    google_entry["google_uid"] = sub
    # python-social-auth configured with USE_UNIQUE_USER_ID = False keys Google users by email;
    # this one never set a password.
    by_email, by_email_entry = user("Ada.Imported@gmail.com", "", "unusable", first_name="Ada", last_name="Imported")
    UserSocialAuth.objects.create(user=by_email, provider="google-oauth2", uid=by_email.email, extra_data={})
    by_email_entry["google_uid"] = by_email.email
    UserSocialAuth.objects.create(user=argon, provider="facebook", uid="10150000000000001", extra_data={})
    argon_entry["other_social"] = {"provider": "facebook", "uid": "10150000000000001"}

    # Records the import must skip, each for its reason. Django's EmailValidator refuses this
    # address (two dots in a row), as authd's NormalizeEmail does; saved without full_clean.
    bad = "john..doe@example.com"
    try:
        validate_email(bad)
        raise AssertionError(f"Django accepts {bad}")
    except ValidationError:
        pass
    user(bad, "my address is broken", "pbkdf2_sha256", expect="skipped", skip="invalid_email", save_unchecked=True)
    # Django's unique email is case-sensitive, authd's is not: the second of these is skipped.
    user("twin@example.com", "the first twin", "pbkdf2_sha256", pk=ordered_pk(True))
    user("TWIN@example.com", "the second twin", "pbkdf2_sha256", pk=ordered_pk(False),
         expect="skipped", skip="email_taken")
    # A phone number libphonenumber refuses, and one another account has.
    badphone, badphone_entry = user("badphone@example.com", "my phone is wrong", "pbkdf2_sha256",
                                    expect="skipped", skip="invalid_phone", phone_no="12345")
    user("samephone@example.com", "my phone is someone else's", "pbkdf2_sha256", pk=ordered_pk(False),
         expect="skipped", skip="phone_taken", phone_no="+1 415 555 0101")

    # simplejwt's tokens, as its TokenObtainPairView issues them (for_user records each refresh
    # token as an OutstandingToken).
    def issue(u, entry, kind):
        refresh = RefreshToken.for_user(u)
        entry["tokens"][kind] = str(refresh)
        return refresh

    r = issue(first, first_entry, "refresh_valid")
    first_entry["tokens"]["access"] = str(r.access_token)
    r = issue(first, first_entry, "refresh_blacklisted")
    r.blacklist()
    # Issued two days ago, lived a day: expired. The token and its OutstandingToken say so.
    r = RefreshToken.for_user(first)
    issued = now - timedelta(days=2)
    r.set_iat(at_time=issued)
    r.set_exp(from_time=issued, lifetime=timedelta(days=1))
    OutstandingToken.objects.filter(jti=r["jti"]).update(token=str(r), created_at=issued,
                                                         expires_at=datetime_from_epoch(r["exp"]))
    first_entry["tokens"]["refresh_expired"] = str(r)

    r = issue(argon, argon_entry, "refresh_valid")
    argon_entry["tokens"]["access"] = str(r.access_token)
    issue(argon, argon_entry, "refresh_logout")  # for /auth/logout/
    issue(google, google_entry, "refresh_valid")
    # Tokens of users authd must not honour: inactive, and not imported.
    r = issue(inactive, inactive_entry, "refresh_valid")
    inactive_entry["tokens"]["access"] = str(r.access_token)
    r = issue(badphone, badphone_entry, "refresh_valid")
    badphone_entry["tokens"]["access"] = str(r.access_token)

    # The original itself accepts the good tokens and refuses the others.
    for entry in manifest["users"]:
        for kind, token in entry["tokens"].items():
            cls = AccessToken if kind == "access" else RefreshToken
            try:
                cls(token)
                accepted = True
            except TokenError:
                accepted = False
            assert accepted == (kind in ("access", "refresh_valid", "refresh_logout")), (entry["email"], kind)

    with open(os.path.join(outdir, "dump.json"), "w", encoding="utf-8") as f:
        call_command("dumpdata", "accounts", "social_django", "token_blacklist", indent=0, stdout=f)
    with open(os.path.join(outdir, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1, ensure_ascii=False)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_fixture.py OUTDIR")
    main(sys.argv[1])
