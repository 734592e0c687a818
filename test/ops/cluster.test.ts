import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testEnv } from '../helpers/gatehouse.js';
import { spawnServer, type ServerProcess } from '../helpers/processes.js';

const workerPids = (primary: number) =>
  execFileSync('ps', ['--ppid', String(primary), '-o', 'pid='], { encoding: 'utf8' }).split('\n').map((l) => l.trim()).filter(Boolean).map(Number);

/** Waits until `n` workers have started listening, in the server's whole life. */
async function workersListening(server: ServerProcess, n: number): Promise<void> {
  for (let i = 0; i < 100 && (server.output().match(/"gatehouse listening"/g) ?? []).length < n; i++) await new Promise((r) => setTimeout(r, 100));
}

/** A request on a connection of its own, so the kernel's round robin can pick any worker. */
const fresh = (url: string) => fetch(url, { headers: { connection: 'close' } });

describe('cluster mode (WORKERS=2)', function () {
  this.timeout(60_000);
  let server: ServerProcess;

  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cluster-'));
    server = await spawnServer(await testEnv(`sqlite:${join(dir, 'gatehouse.db')}`, { WORKERS: '2' }));
    await workersListening(server, 2);
  });
  after(() => server?.stop());

  it('runs two worker processes on one port, and /metrics counts the requests of both', async () => {
    assert.equal(workerPids(server.child.pid!).length, 2);
    for (let i = 0; i < 20; i++) assert.equal((await fresh(`${server.url}/.well-known/openid-configuration`)).status, 200);
    const metrics = await (await fresh(`${server.url}/metrics`)).text();
    assert.match(metrics, /http_requests_total\{method="GET",route="discovery",status="200"\} 20\n/);
  });

  it('replaces a worker that dies', async () => {
    const [victim, survivor] = workerPids(server.child.pid!);
    process.kill(victim!, 'SIGKILL');
    let pids: number[] = [];
    for (let i = 0; i < 50; i++) {
      pids = workerPids(server.child.pid!);
      if (pids.length === 2 && !pids.includes(victim!)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(pids.length, 2);
    assert.ok(pids.includes(survivor!) && !pids.includes(victim!));
    await workersListening(server, 3);
    for (let i = 0; i < 6; i++) assert.equal((await fresh(`${server.url}/healthz`)).status, 200);
  });

  it('on SIGTERM every worker drains and the supervisor exits 0', async () => {
    const pids = workerPids(server.child.pid!);
    assert.equal(await server.stop(), 0);
    for (const pid of pids) assert.throws(() => process.kill(pid, 0), /ESRCH/, `worker ${pid} is gone`);
  });
});
