import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { maxSignedTokenLifetime } from '../../src/oidc/provider.js';
import { rotateSigningKeys } from '../../src/oidc/signing-keys.js';
import { startTestServer, type TestServer } from '../helpers/gatehouse.js';

const DOCUMENTS = ['/.well-known/openid-configuration', '/jwks'];

describe('discovery and JWKS served from memory', function () {
  this.timeout(30_000);
  let server: TestServer;

  // A one-second refresh so a rotation shows quickly; the activation delay sets the max-age.
  before(async () => {
    server = await startTestServer(`sqlite:${join(mkdtempSync(join(tmpdir(), 'gatehouse-documents-')), 'gatehouse.db')}`, { SIGNING_KEY_ACTIVATION_DELAY: '2', SIGNING_KEY_REFRESH_INTERVAL: '1' });
  });
  after(() => server?.stop());

  for (const path of DOCUMENTS) {
    it(`${path}: the same bytes each time, with an ETag, a short public max-age, and 304 for a matching If-None-Match`, async () => {
      const first = await fetch(`${server.issuer}${path}`);
      const body = await first.text();
      const etag = first.headers.get('etag');
      assert.equal(first.status, 200);
      assert.match(etag ?? '', /^"[\w-]+"$/);
      assert.equal(first.headers.get('cache-control'), 'public, max-age=1');
      assert.match(first.headers.get('content-type') ?? '', /json/);
      JSON.parse(body);

      const again = await fetch(`${server.issuer}${path}`);
      assert.equal(await again.text(), body);
      assert.equal(again.headers.get('etag'), etag);

      const revalidated = await fetch(`${server.issuer}${path}`, { headers: { 'if-none-match': `W/"other", ${etag}` } });
      assert.equal(revalidated.status, 304);
      assert.equal(await revalidated.text(), '');

      const stale = await fetch(`${server.issuer}${path}`, { headers: { 'if-none-match': '"other"' } });
      assert.equal(stale.status, 200);
    });

    it(`${path}: readable from any origin, as the provider allows`, async () => {
      const answer = await fetch(`${server.issuer}${path}`, { headers: { origin: 'https://tool.example.test' } });
      assert.equal(answer.headers.get('access-control-allow-origin'), 'https://tool.example.test');
      assert.match(answer.headers.get('vary') ?? '', /Origin/);
    });
  }

  it('a key rotation shows in the JWKS at once, under a new ETag', async () => {
    const before = await fetch(`${server.issuer}/jwks`);
    const beforeKids = ((await before.json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
    const created = await rotateSigningKeys(server.store, server.secrets, { activationDelay: 2, maxTokenLifetime: maxSignedTokenLifetime(server.config) });
    let after: Response | undefined;
    for (let i = 0; i < 40; i++) {
      after = await fetch(`${server.issuer}/jwks`);
      if (after.headers.get('etag') !== before.headers.get('etag')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const afterKids = ((await after!.json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
    for (const key of created) assert.ok(afterKids.includes(key.kid), 'the new keys are published');
    for (const kid of beforeKids) assert.ok(afterKids.includes(kid), 'the old keys stay published');
  });
});
