import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import Koa from 'koa';
import { expressMiddleware, koaMiddleware, type GatehouseState, type MiddlewareOptions } from '../../docs/examples/validate-middleware.js';
import { createApiKey } from '../../src/access/api-keys.js';
import { createLogger } from '../../src/logger.js';
import { AuditLog } from '../../src/security/audit.js';
import type { UserRecord } from '../../src/store/port.js';
import { backends } from '../helpers/backends.js';
import { freePort } from '../helpers/free-port.js';
import { startTestServer, type TestServer } from '../helpers/gatehouse.js';

/** The example middleware from docs/integrating-a-tool.md: its Koa adapter in a real Koa app, its Express adapter with stand-ins. */
describe('docs/examples/validate-middleware.ts against a real Gatehouse', function () {
  this.timeout(60_000);
  let server: TestServer;
  let writer: UserRecord;
  let writerKey: string;
  let outsiderKey: string;
  const apps: Server[] = [];

  const keyFor = async (user: UserRecord) => {
    const deps = { store: server.store, secrets: server.secrets, audit: new AuditLog(server.store, createLogger('silent')), keysPerUser: 5 };
    return (await createApiKey(deps, user, { name: 'middleware test' }, { actor: { type: 'cli', id: null }, ip: null })).key;
  };

  /** A tiny tool API behind the middleware; its handler echoes what the middleware handed on. */
  const startTool = async (options: Partial<MiddlewareOptions> = {}) => {
    const app = new Koa();
    app.use(koaMiddleware({ issuer: server.issuer, tool: 'wiki', ...options }));
    app.use((ctx) => {
      const { user, permission } = ctx.state.gatehouse as GatehouseState;
      ctx.body = { user_id: user?.id ?? null, permission };
    });
    const port = await freePort();
    const listening = await new Promise<Server>((resolve) => {
      const s = app.listen(port, '127.0.0.1', () => resolve(s));
    });
    apps.push(listening);
    return `http://127.0.0.1:${port}/pages`;
  };

  const get = async (url: string, authorization?: string) => {
    const res = await fetch(url, { headers: authorization ? { authorization } : {} });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
  };

  before(async () => {
    server = await startTestServer(await backends[0]!.freshDatabaseUrl());
    await server.createClient({ client_id: 'wiki', client_name: 'Wiki', redirect_uris: ['https://wiki.example.test/cb'] });
    writer = await server.createUser();
    await server.store.permissions.set(writer.id, 'wiki', 'write');
    writerKey = await keyFor(writer);
    outsiderKey = await keyFor(await server.createUser());
  });
  after(async () => {
    await Promise.all(apps.map((s) => new Promise((resolve) => { s.close(resolve); s.closeAllConnections(); })));
    await server?.stop();
  });

  it('lets a valid API key through and hands the handler the user and their permission', async () => {
    const res = await get(await startTool(), `Bearer ${writerKey}`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { user_id: writer.id, permission: 'write' });
  });

  it('answers 401 with a Bearer challenge without a credential, and for a made-up key', async () => {
    const url = await startTool();
    const missing = await get(url);
    assert.equal(missing.status, 401);
    assert.equal(missing.headers.get('www-authenticate'), 'Bearer');
    assert.equal(missing.body.error, 'invalid_token');

    const garbage = await get(url, `Bearer ghk_${'x'.repeat(49)}`);
    assert.equal(garbage.status, 401);
    assert.equal(garbage.headers.get('www-authenticate'), 'Bearer error="invalid_token"');
    assert.equal(garbage.body.error, 'invalid_token');
  });

  it('answers 403 below the minimum level, and to a person with no permission in the tool', async () => {
    const adminsOnly = await get(await startTool({ minimum: 'admin' }), `Bearer ${writerKey}`);
    assert.equal(adminsOnly.status, 403);
    assert.equal(adminsOnly.body.error, 'forbidden');

    const writersOk = await get(await startTool({ minimum: 'write' }), `Bearer ${writerKey}`);
    assert.equal(writersOk.status, 200);

    const outsider = await get(await startTool(), `Bearer ${outsiderKey}`);
    assert.equal(outsider.status, 403);
    assert.equal(outsider.body.error, 'forbidden');
  });

  it('sees a changed permission at once without a cache', async () => {
    const url = await startTool();
    await server.store.permissions.set(writer.id, 'wiki', 'read');
    try {
      assert.equal((await get(url, `Bearer ${writerKey}`)).body.permission, 'read');
    } finally {
      await server.store.permissions.set(writer.id, 'wiki', 'write');
    }
  });

  it('with cacheMs, reuses a valid answer until it ages out', async () => {
    const url = await startTool({ cacheMs: 60_000 });
    assert.equal((await get(url, `Bearer ${writerKey}`)).body.permission, 'write');
    await server.store.permissions.set(writer.id, 'wiki', 'read');
    try {
      assert.equal((await get(url, `Bearer ${writerKey}`)).body.permission, 'write', 'the cached answer, until cacheMs passes');
    } finally {
      await server.store.permissions.set(writer.id, 'wiki', 'write');
    }
  });

  it('the Express adapter sets req.gatehouse, or answers like the Koa one', async () => {
    const run = async (authorization: string | undefined, minimum?: 'admin') => {
      const req: { headers: { authorization?: string }; gatehouse?: GatehouseState } = { headers: authorization ? { authorization } : {} };
      const sent: { status?: number; body?: unknown; headers: Record<string, string> } = { headers: {} };
      const middleware = expressMiddleware({ issuer: server.issuer, tool: 'wiki', ...(minimum ? { minimum } : {}) });
      // Resolves true when the middleware called next(), false when it answered itself.
      const passed = await new Promise<boolean>((resolve, reject) => {
        const res = {
          status: (code: number) => (sent.status = code),
          setHeader: (name: string, value: string) => (sent.headers[name] = value),
          json: (body: unknown) => resolve(((sent.body = body), false)),
        };
        middleware(req, res, (err?: unknown) => (err ? reject(err) : resolve(true)));
      });
      return { passed, req, sent };
    };
    const ok = await run(`Bearer ${writerKey}`);
    assert.equal(ok.passed, true);
    assert.deepEqual(ok.req.gatehouse, { user: { id: writer.id, email: writer.email, name: writer.name, role: 'viewer' }, permission: 'write' });
    const missing = await run(undefined);
    assert.equal(missing.passed, false);
    assert.equal(missing.sent.status, 401);
    const forbidden = await run(`Bearer ${writerKey}`, 'admin');
    assert.equal(forbidden.sent.status, 403);
  });

  it('answers 503 when Gatehouse cannot be reached', async () => {
    const res = await get(await startTool({ issuer: `http://127.0.0.1:${await freePort()}` }), `Bearer ${writerKey}`);
    assert.equal(res.status, 503);
    assert.equal(res.body.error, 'temporarily_unavailable');
  });
});
