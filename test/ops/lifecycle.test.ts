import assert from 'node:assert/strict';
import { request } from 'node:http';
import { backends } from '../helpers/backends.js';
import { testEnv } from '../helpers/gatehouse.js';
import { spawnServer } from '../helpers/processes.js';

describe('operations', function () {
  this.timeout(60_000);

  it('/healthz and /readyz answer JSON when the store is reachable, keeping connections alive for KEEP_ALIVE_TIMEOUT', async () => {
    const server = await spawnServer(await testEnv(await backends[0]!.freshDatabaseUrl(), { KEEP_ALIVE_TIMEOUT: '7' }));
    try {
      const health = await fetch(`${server.url}/healthz`);
      assert.deepEqual(await health.json(), { status: 'ok' });
      assert.equal(health.headers.get('keep-alive'), 'timeout=7');
      const ready = await fetch(`${server.url}/readyz`);
      assert.equal(ready.status, 200);
      assert.deepEqual(await ready.json(), { status: 'ready', store: 'sqlite' });
      // The log line travels through a pipe and may arrive after the response: wait for it.
      let line: string | undefined;
      for (let i = 0; i < 50 && !line; i++) {
        line = server.output().split('\n').find((l) => l.includes('"path":"/readyz"'));
        if (!line) await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(line, 'the request was logged');
      const entry = JSON.parse(line) as Record<string, unknown>;
      assert.equal(entry.level, 'info');
      assert.equal(entry.status, 200);
    } finally {
      await server.stop();
    }
  });

  it('on SIGTERM finishes the request in flight, then exits 0 having closed the store', async () => {
    const server = await spawnServer(await testEnv(await backends[0]!.freshDatabaseUrl()));
    const body = 'grant_type=client_credentials&client_id=nobody&client_secret=nothing';
    // A request whose body is still arriving when the signal comes.
    const response = new Promise<number>((resolve, reject) => {
      const req = request(`${server.url}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': body.length } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.once('error', reject);
      req.write(body.slice(0, 10));
      setTimeout(() => {
        server.child.kill('SIGTERM');
        setTimeout(() => req.end(body.slice(10)), 300);
      }, 200);
    });
    assert.equal(await response, 401, 'the in-flight request got its real answer');
    assert.equal(await server.stop(), 0);
    const out = server.output();
    assert.ok(out.indexOf('"shutting down"') < out.indexOf('"gatehouse stopped"'));
  });
});
