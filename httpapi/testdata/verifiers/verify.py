#!/usr/bin/python3
"""Verify an authd access token with PyJWT, as another service would.

usage: verify.py JWKS TOKEN ISSUER
JWKS is the URL of authd's /.well-known/jwks.json or the JWKS itself as JSON.
Exits 0 when PyJWT accepts the token as an EdDSA JWT from ISSUER with exp and iat,
1 (with the reason on stderr) when it does not, 2 on bad usage.
"""
import json
import sys

import jwt


def signing_key(jwks, token):
    if jwks.lstrip().startswith("{"):
        kid = jwt.get_unverified_header(token).get("kid")
        for k in json.loads(jwks)["keys"]:
            if k.get("kid") == kid:
                return jwt.PyJWK(k).key
        raise jwt.PyJWKError(f"no key in the JWKS for kid {kid!r}")
    return jwt.PyJWKClient(jwks).get_signing_key_from_jwt(token).key


def main(argv):
    if len(argv) != 4:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    jwks, token, issuer = argv[1:]
    try:
        claims = jwt.decode(
            token,
            signing_key(jwks, token),
            algorithms=["EdDSA"],
            options={"require": ["exp", "iat"]},
            issuer=issuer,
        )
    except (jwt.PyJWTError, ValueError, KeyError) as e:
        print(f"PyJWT {jwt.__version__}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(json.dumps(claims))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
