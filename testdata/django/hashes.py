"""Prints, as JSON, passwords hashed by the real Django in each of its encodings that authd accepts.

Run with a Python that has Django (Debian's python3-django 3.2), argon2-cffi and bcrypt. Each item
is {"hasher", "password", "encoded", "probes"}: probes are other passwords with Django's own
verdict on each (check_password), so the Go test can assert it agrees with Django.
"""
import base64
import hashlib
import json
import secrets
import sys

from django.conf import settings

HASHERS = {
    "pbkdf2_sha256": "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "pbkdf2_sha1": "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "argon2": "django.contrib.auth.hashers.Argon2PasswordHasher",
    "bcrypt_sha256": "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "bcrypt": "django.contrib.auth.hashers.BCryptPasswordHasher",
}

settings.configure(PASSWORD_HASHERS=list(HASHERS.values()))

import django  # noqa: E402

django.setup()

from django.contrib.auth import hashers  # noqa: E402

PASSWORDS = [
    "correct horse battery staple",
    "\ufb01nancial p\u00e4ssword",  # "ﬁ" ligature: NFKC makes it "fi"
    "\uff50\uff41\uff53\uff53\uff57\uff4f\uff52\uff44\uff11\uff12\uff13",  # full-width "password123"
    "caf\u00e9 e\u0301 \U0001f434",  # NFC é, NFD é and an emoji
    "x" * 72 + "tail that bcrypt never sees" + "\u00e9" * 10,  # over 72 bytes
    " ",  # empty-ish: a single space
]


def scrypt_encode(password, salt, n=2**14, r=8, p=1):
    """Django 4.0's ScryptPasswordHasher.encode, which Django 3.2 lacks: hashlib.scrypt with
    dklen=64 and the salt string's bytes, written as scrypt$N$salt$r$p$base64(hash)."""
    hash_ = hashlib.scrypt(password.encode(), salt=salt.encode(), n=n, r=r, p=p, maxmem=0, dklen=64)
    return "%s$%d$%s$%d$%d$%s" % ("scrypt", n, salt, r, p, base64.b64encode(hash_).decode("ascii").strip())


def scrypt_verify(password, encoded):
    """Django 4.0's ScryptPasswordHasher.verify: re-encode and compare the whole string."""
    _, n, salt, r, p, _ = encoded.split("$", 5)
    return secrets.compare_digest(encoded, scrypt_encode(password, salt, int(n), int(r), int(p)))


class CheapArgon2i(hashers.Argon2PasswordHasher):
    """Django's older argon2i encoding (argon2$argon2i$...), at a small cost."""

    time_cost, memory_cost, parallelism = 1, 1024, 2

    def params(self):
        import argon2

        params = super().params()
        params.type = argon2.low_level.Type.I
        return params


def cheap(name):
    """The Django hasher of that name at a small cost, so the test stays quick. Django reads the
    cost back from the encoding when it verifies, so these verify as the defaults do."""
    hasher = hashers.get_hasher(name)
    if name.startswith("pbkdf2"):
        hasher.iterations = 1000
    elif name.startswith("bcrypt"):
        hasher.rounds = 4
    elif name == "argon2":
        hasher.time_cost, hasher.memory_cost, hasher.parallelism = 1, 1024, 2
    return hasher


def probes(password):
    import unicodedata

    out = [password + "!", password.upper(), unicodedata.normalize("NFKC", password), password[:-1]]
    if len(password.encode()) > 72:
        out.append(password.encode()[:72].decode("utf-8", "ignore"))
    return [p for p in dict.fromkeys(out) if p != password]


def item(hasher, password, encoded, check):
    return {
        "hasher": hasher,
        "password": password,
        "encoded": encoded,
        "probes": [{"password": q, "django": check(q, encoded)} for q in probes(password)],
    }


def main():
    items = []
    for name in HASHERS:
        # The first password at Django 3.2's own cost (pbkdf2 260,000 iterations, argon2id
        # m=102400,t=2,p=8, bcrypt cost 12); the others cheaply.
        for i, password in enumerate(PASSWORDS):
            hasher = name if i == 0 else cheap(name)
            items.append(item(name, password, hashers.make_password(password, hasher=hasher), hashers.check_password))
    # The older argon2i encoding, which Django 1.10 made and Django still verifies.
    for password in PASSWORDS[:2]:
        items.append(item("argon2", password, hashers.make_password(password, hasher=CheapArgon2i()), hashers.check_password))
    # Django 3.2 has no ScryptPasswordHasher (it came with Django 4.0): these are made by
    # hashlib.scrypt in Django 4.0's exact encoding, the first at its default cost (N=2**14,
    # r=8, p=1), the others at N=2**4.
    for i, password in enumerate(PASSWORDS):
        n = 2**14 if i == 0 else 2**4
        items.append(item("scrypt", password, scrypt_encode(password, hashers.get_random_string(22), n=n), scrypt_verify))
    json.dump(items, sys.stdout, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
