import assert from 'node:assert/strict';
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT, type JWTVerifyGetKey } from 'jose';
import { AccessTokenVerifier } from '../../src/api/access-token-verifier.js';

const ISSUER = 'https://id.example.test';
const API = 'https://api.example.test';
const OTHER_API = 'https://other.example.test';
const NOW = Date.UTC(2026, 10, 24, 12);
const epoch = (ms: number) => Math.floor(ms / 1000);

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;

/** A key set whose lookups are counted: jose looks the key up once per signature check. */
async function keySet(pair: KeyPair, kid: string) {
  const local = createLocalJWKSet({ keys: [{ ...(await exportJWK(pair.publicKey)), kid, alg: 'ES256' }] });
  const counted: { checks: number; keys: JWTVerifyGetKey } = {
    checks: 0,
    keys: (header, token) => {
      counted.checks++;
      return local(header, token);
    },
  };
  return counted;
}

function token(pair: KeyPair, kid: string, claims: { aud?: string; exp?: number; typ?: string; iss?: string } = {}) {
  const jwt = new SignJWT({ client_id: 'tool', scope: 'openid' })
    .setProtectedHeader({ alg: 'ES256', kid, typ: claims.typ ?? 'at+jwt' })
    .setIssuer(claims.iss ?? ISSUER)
    .setAudience(claims.aud ?? API)
    .setSubject('user-1')
    .setIssuedAt(epoch(NOW));
  if (claims.exp !== 0) jwt.setExpirationTime(claims.exp ?? epoch(NOW) + 300);
  return jwt.sign(pair.privateKey);
}

describe('AccessTokenVerifier', () => {
  let pair: KeyPair;
  before(async () => {
    pair = await generateKeyPair('ES256');
  });

  it('checks a token’s signature once, then answers from memory', async () => {
    const set = await keySet(pair, 'k1');
    const verifier = new AccessTokenVerifier(() => set.keys, ISSUER, 100);
    const jwt = await token(pair, 'k1');
    const first = await verifier.verify(jwt, [API], NOW);
    assert.equal(first?.sub, 'user-1');
    assert.deepEqual(await verifier.verify(jwt, [API], NOW + 1000), first);
    assert.equal(set.checks, 1);
    assert.ok(Object.isFrozen(first), 'claims shared between callers cannot be changed');
  });

  it('stops accepting a remembered token at its exp', async () => {
    const set = await keySet(pair, 'k1');
    const verifier = new AccessTokenVerifier(() => set.keys, ISSUER, 100);
    const jwt = await token(pair, 'k1', { exp: epoch(NOW) + 60 });
    assert.ok(await verifier.verify(jwt, [API], NOW));
    assert.ok(await verifier.verify(jwt, [API], NOW + 59_999));
    assert.equal(await verifier.verify(jwt, [API], NOW + 60_000), undefined);
    assert.equal(await verifier.verify(jwt, [API], NOW + 60_001), undefined);
  });

  it('verifies afresh for other audiences, and refuses a token not meant for them', async () => {
    const set = await keySet(pair, 'k1');
    const verifier = new AccessTokenVerifier(() => set.keys, ISSUER, 100);
    const jwt = await token(pair, 'k1', { aud: API });
    assert.ok(await verifier.verify(jwt, [API], NOW));
    assert.equal(await verifier.verify(jwt, [OTHER_API], NOW), undefined);
    assert.ok(await verifier.verify(jwt, [OTHER_API, API], NOW));
    assert.equal(set.checks, 3);
  });

  it('forgets everything when the key set changes, so a retired key verifies nothing', async () => {
    const before = await keySet(pair, 'k1');
    const after = await keySet(await generateKeyPair('ES256'), 'k2');
    let current = before;
    const verifier = new AccessTokenVerifier(() => current.keys, ISSUER, 100);
    const jwt = await token(pair, 'k1');
    assert.ok(await verifier.verify(jwt, [API], NOW));
    current = after;
    assert.equal(await verifier.verify(jwt, [API], NOW), undefined);
    assert.equal(after.checks, 1);
  });

  it('refuses forged, foreign and malformed tokens, and remembers none of them', async () => {
    const set = await keySet(pair, 'k1');
    const verifier = new AccessTokenVerifier(() => set.keys, ISSUER, 100);
    const good = await token(pair, 'k1');
    const [header, payload] = good.split('.');
    const forgedPayload = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload!, 'base64url').toString()), sub: 'admin' })).toString('base64url');
    const refused = [
      `${header}.${forgedPayload}.${good.split('.')[2]}`,
      await token(await generateKeyPair('ES256'), 'k1'),
      await token(pair, 'k1', { iss: 'https://elsewhere.example.test' }),
      await token(pair, 'k1', { typ: 'JWT' }),
      await token(pair, 'k1', { exp: epoch(NOW) - 1 }),
      'not.a.jwt',
    ];
    for (const jwt of refused) {
      assert.equal(await verifier.verify(jwt, [API], NOW), undefined, jwt);
      assert.equal(await verifier.verify(jwt, [API], NOW), undefined, jwt);
    }
  });

  it('never remembers a token without exp', async () => {
    const set = await keySet(pair, 'k1');
    const verifier = new AccessTokenVerifier(() => set.keys, ISSUER, 100);
    const jwt = await token(pair, 'k1', { exp: 0 });
    assert.ok(await verifier.verify(jwt, [API], NOW));
    assert.ok(await verifier.verify(jwt, [API], NOW));
    assert.equal(set.checks, 2);
  });

  it('keeps at most `capacity` tokens, dropping the least recently used', async () => {
    const set = await keySet(pair, 'k1');
    const verifier = new AccessTokenVerifier(() => set.keys, ISSUER, 2);
    const [a, b, c] = await Promise.all([1, 2, 3].map((n) => token(pair, 'k1', { exp: epoch(NOW) + 300 + n })));
    await verifier.verify(a!, [API], NOW);
    await verifier.verify(b!, [API], NOW);
    await verifier.verify(a!, [API], NOW); // a is now the most recently used
    await verifier.verify(c!, [API], NOW); // so b goes
    assert.equal(set.checks, 3);
    await verifier.verify(a!, [API], NOW);
    await verifier.verify(c!, [API], NOW);
    assert.equal(set.checks, 3);
    await verifier.verify(b!, [API], NOW);
    assert.equal(set.checks, 4);
  });

  it('with capacity 0, checks every time', async () => {
    const set = await keySet(pair, 'k1');
    const verifier = new AccessTokenVerifier(() => set.keys, ISSUER, 0);
    const jwt = await token(pair, 'k1');
    for (let i = 0; i < 3; i++) assert.ok(await verifier.verify(jwt, [API], NOW));
    assert.equal(set.checks, 3);
  });
});
