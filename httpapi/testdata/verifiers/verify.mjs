// Verify an authd access token with jose, as another service would.
//
// usage: node verify.mjs JWKS TOKEN ISSUER
// JWKS is the URL of authd's /.well-known/jwks.json or the JWKS itself as JSON.
// Exits 0 when jose accepts the token as an EdDSA JWT from ISSUER with exp and iat,
// 1 (with the reason on stderr) when it does not, 2 on bad usage.
import { createLocalJWKSet, createRemoteJWKSet, jwtVerify } from 'jose'

const [jwks, token, issuer] = process.argv.slice(2)
if (process.argv.length !== 5) {
  console.error('usage: node verify.mjs JWKS TOKEN ISSUER')
  process.exit(2)
}

try {
  const keys = jwks.trimStart().startsWith('{')
    ? createLocalJWKSet(JSON.parse(jwks))
    : createRemoteJWKSet(new URL(jwks))
  const { payload } = await jwtVerify(token, keys, {
    algorithms: ['EdDSA'],
    issuer,
    requiredClaims: ['exp', 'iat'],
  })
  console.log(JSON.stringify(payload))
} catch (e) {
  console.error(`jose: ${e.code ?? e.name}: ${e.message}`)
  process.exit(1)
}
