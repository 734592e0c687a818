import Router from '@koa/router';
import Koa from 'koa';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { routeByPrefix } from '../../src/http/route-by-prefix.js';

/** A router whose route matching is counted, so a test can tell whether a request went through it. */
function countedRouter(build: (router: Router) => void, options?: ConstructorParameters<typeof Router>[0]) {
  const router = new Router(options);
  build(router);
  const counter = { matches: 0 };
  const match = router.match.bind(router);
  router.match = (...args: Parameters<Router['match']>) => {
    counter.matches++;
    return match(...args);
  };
  return { router, counter };
}

/** Serves `routers` through routeByPrefix, then a stand-in for oidc-provider that owns /token and /me. */
async function serve(routers: Router[]) {
  const app = new Koa();
  app.use(routeByPrefix(routers));
  app.use((ctx) => {
    if (ctx.path === '/token' || ctx.path === '/me') ctx.body = `provider ${ctx.path}`;
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    request: async (path: string, init?: RequestInit) => {
      const res = await fetch(base + path, init);
      return { status: res.status, allow: res.headers.get('allow'), text: await res.text() };
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

describe('routeByPrefix', () => {
  const api = countedRouter((r) => r.get('/api/things/:id', (ctx) => (ctx.body = `thing ${ctx.params.id}`)));
  const pages = countedRouter((r) => r.post('/done', (ctx) => (ctx.body = 'done')), { prefix: '/interaction/:uid' });
  let server: Awaited<ReturnType<typeof serve>>;
  before(async () => (server = await serve([api.router, pages.router])));
  after(() => server.close());
  beforeEach(() => {
    api.counter.matches = 0;
    pages.counter.matches = 0;
  });

  it('sends a path outside every router’s first segment straight on, without matching any route', async () => {
    assert.deepEqual(await server.request('/token', { method: 'POST' }), { status: 200, allow: null, text: 'provider /token' });
    assert.deepEqual(await server.request('/me'), { status: 200, allow: null, text: 'provider /me' });
    assert.equal(api.counter.matches + pages.counter.matches, 0);
  });

  it('serves the routers’ own paths, prefixed ones included, as the routers would', async () => {
    assert.equal((await server.request('/api/things/7')).text, 'thing 7');
    assert.equal((await server.request('/interaction/abc/done', { method: 'POST' })).text, 'done');
    assert.ok(api.counter.matches > 0);
  });

  it('matches a path only against the routers with a route under its first segment', async () => {
    assert.equal((await server.request('/api/things/9')).text, 'thing 9');
    assert.equal((await server.request('/interaction/abc/done', { method: 'POST' })).text, 'done');
    assert.deepEqual([api.counter.matches, pages.counter.matches], [1, 1]);
  });

  it('keeps the routers’ answers for a wrong method (405 with Allow) and their case-insensitive matching', async () => {
    const wrongMethod = await server.request('/api/things/7', { method: 'DELETE' });
    assert.equal(wrongMethod.status, 405);
    assert.match(wrongMethod.allow ?? '', /GET/);
    assert.equal((await server.request('/API/things/8')).text, 'thing 8');
  });

  it('answers 404 for an unknown path under a router’s segment', async () => {
    assert.equal((await server.request('/api/unknown')).status, 404);
  });

  it('runs every router with a route under a segment, in their given order', async () => {
    const first = countedRouter((r) => r.get('/api/shared', (ctx) => (ctx.body = 'first')));
    const second = countedRouter((r) => {
      r.get('/api/shared', (ctx) => (ctx.body = 'second'));
      r.post('/api/only-second', (ctx) => (ctx.body = 'only second'));
    });
    const other = await serve([first.router, second.router, pages.router]);
    try {
      assert.equal((await other.request('/api/shared')).text, 'first');
      assert.equal((await other.request('/api/only-second', { method: 'POST' })).text, 'only second');
      const wrongMethod = await other.request('/api/only-second');
      assert.equal(wrongMethod.status, 405);
      assert.equal(wrongMethod.allow, 'POST');
      assert.equal(pages.counter.matches, 0);
    } finally {
      await other.close();
    }
  });

  it('runs the routers for every path when a route does not start with a fixed segment', async () => {
    const anywhere = countedRouter((r) => r.get('/:tenant/home', (ctx) => (ctx.body = `home of ${ctx.params.tenant}`)));
    const other = await serve([api.router, anywhere.router]);
    try {
      assert.equal((await other.request('/acme/home')).text, 'home of acme');
      assert.equal((await other.request('/token')).text, 'provider /token');
      assert.equal(anywhere.counter.matches, 2);
    } finally {
      await other.close();
    }
  });
});
