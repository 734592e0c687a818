import Koa from 'koa';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { CookieSigner } from '../../src/security/cookie-signer.js';

const OLD_KEY = 'qQ6nj5TYMnXij2BSPOPHvc0j41drTTrK9HD8LizhZZw';
const NEW_KEY = 'a-newer-cookie-key-prepended-at-rotation-0001';

/** A Koa app signing with `signer`: GET /set sets `flavour`, GET /get reads it back (signed). */
async function serve(signer: CookieSigner) {
  const app = new Koa();
  app.keys = signer;
  app.use((ctx) => {
    if (ctx.path === '/set') ctx.cookies.set('flavour', 'oatmeal', { signed: true });
    ctx.body = { flavour: ctx.cookies.get('flavour', { signed: true }) ?? null };
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    /** The cookies a response sets, as `name=value` pairs. */
    async set() {
      const res = await fetch(`${base}/set`);
      return res.headers.getSetCookie().map((c) => c.split(';')[0]!);
    },
    async get(cookies: string[]) {
      const res = await fetch(`${base}/get`, { headers: { cookie: cookies.join('; ') } });
      return { body: (await res.json()) as { flavour: string | null }, resigned: res.headers.getSetCookie().map((c) => c.split(';')[0]!) };
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

describe('signed cookies', () => {
  const servers: Awaited<ReturnType<typeof serve>>[] = [];
  const start = async (keys: string[]) => {
    const server = await serve(new CookieSigner(keys));
    servers.push(server);
    return server;
  };
  after(() => Promise.all(servers.map((s) => s.close())));

  it('signs as keygrip did (HMAC-SHA-1, base64url), so cookies from before an upgrade still verify', () => {
    // Made with keygrip 1.1.0 (koa 3's default) from the same key and data.
    assert.equal(new CookieSigner([OLD_KEY]).sign('gatehouse.session=abc123'), 'J60MkI144v_fctW5aLTKg7IGKV0');
  });

  it('reads back the cookie it set, and nothing whose value or signature was changed', async () => {
    const server = await start([OLD_KEY]);
    const [value, signature] = await server.set();
    assert.match(signature!, /^flavour\.sig=/);
    assert.equal((await server.get([value!, signature!])).body.flavour, 'oatmeal');

    assert.equal((await server.get(['flavour=chocolate', signature!])).body.flavour, null, 'another value');
    const sig = signature!.split('=')[1]!;
    const flipped = `flavour.sig=${sig.startsWith('A') ? 'B' : 'A'}${sig.slice(1)}`;
    assert.equal((await server.get([value!, flipped])).body.flavour, null, 'another signature');
    assert.equal((await server.get([value!, `${signature}A`])).body.flavour, null, 'a longer signature');
    assert.equal((await server.get([value!])).body.flavour, null, 'no signature');
  });

  it('accepts a cookie signed with an older key after rotation, and signs it again with the newest', async () => {
    const before = await start([OLD_KEY]);
    const cookies = await before.set();
    const after = await start([NEW_KEY, OLD_KEY]);
    const read = await after.get(cookies);
    assert.equal(read.body.flavour, 'oatmeal');
    const resigned = read.resigned.find((c) => c.startsWith('flavour.sig='));
    assert.ok(resigned && resigned !== cookies[1], 'a fresh signature');
    assert.equal((await after.get([cookies[0]!, resigned])).body.flavour, 'oatmeal');
    assert.equal((await before.get([cookies[0]!, resigned])).body.flavour, null, 'the new key is not the old one');
  });

  it('will not be made without a key', () => {
    assert.throws(() => new CookieSigner([]), /at least one key/);
  });
});
