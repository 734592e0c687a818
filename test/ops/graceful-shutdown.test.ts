import assert from 'node:assert/strict';
import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import * as oidc from 'openid-client';
import { registerClient, type RegisteredClient } from '../../src/access/clients.js';
import { Secrets } from '../../src/security/secrets.js';
import { openStore } from '../../src/store/open-store.js';
import { backends } from '../helpers/backends.js';
import { TEST_SECRET, testEnv } from '../helpers/gatehouse.js';
import { spawnServer, type ServerProcess } from '../helpers/processes.js';
import { discover } from '../helpers/relying-party.js';

/**
 * SIGTERM while many keep-alive clients hammer the server. One backend is enough: the
 * drain is the HTTP layer's (src/server.ts), the same whatever the store; the store
 * closing last after it is covered per backend by the lifecycle suite.
 */

const WORKERS = 24;
/** Completed requests before the signal, so every worker's connections are warm and reused. */
const WARM_UP_REQUESTS = 1000;

type Op = 'discovery' | 'jwks' | 'readyz' | 'token';

interface Tally {
  ok: number;
  /** Connection refused: the server had stopped accepting; the request was never sent. */
  refused: number;
  /** A request sent that got no complete answer (reset, hang-up, truncated body). */
  broken: string[];
  /** Complete answers that were not the expected one. */
  wrong: string[];
  /** Answers that told the client to close the connection: served during the drain. */
  closing: number;
  /** Requests written on a socket that had already carried one (keep-alive in use). */
  reused: number;
}

interface PlainAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  reused: boolean;
}

/** A GET over a keep-alive agent; rejects unless a complete response arrives. */
function get(agent: Agent, url: string): Promise<PlainAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.once('error', reject);
      res.once('aborted', () => reject(new Error('response aborted')));
      res.once('end', () => {
        if (!res.complete) reject(new Error('response truncated'));
        else resolve({ status: res.statusCode!, headers: res.headers, body, reused: req.reusedSocket });
      });
    });
    req.once('error', reject);
    req.end();
  });
}

function refused(err: unknown): boolean {
  for (let e = err as { code?: string; cause?: unknown; errors?: unknown[] } | undefined; e; e = e.cause as typeof e) {
    if (e.code === 'ECONNREFUSED') return true;
    if (Array.isArray(e.errors) && e.errors.some(refused)) return true;
  }
  return false;
}

function describeError(err: unknown): string {
  const parts: string[] = [];
  for (let e = err as { message?: string; code?: string; cause?: unknown } | undefined; e && parts.length < 5; e = e.cause as typeof e) {
    parts.push(`${e.code ?? ''} ${e.message ?? String(e)}`.trim());
  }
  return parts.join(' <- ');
}

/**
 * A /readyz request whose headers are still arriving: in flight from the server's point of
 * view. A first, complete request on the same connection proves the server has accepted
 * it: a connection still in the listen backlog would be refused when the server stops
 * accepting, which is not what this probe is about.
 */
async function readyzInFlight(url: string): Promise<{ finish(): Promise<{ status: number; head: string; body: string }> }> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  socket.setEncoding('utf8');
  let raw = '';
  let onAnswer: (answer: { status: number; head: string; body: string }) => void = () => {};
  socket.on('data', (d: string) => {
    raw += d;
    const end = raw.indexOf('\r\n\r\n');
    if (end < 0) return;
    const head = raw.slice(0, end);
    const length = Number(/content-length:\s*(\d+)/i.exec(head)?.[1] ?? NaN);
    const body = raw.slice(end + 4);
    if (body.length < length) return;
    raw = body.slice(length);
    onAnswer({ status: Number(head.split(' ')[1]), head, body: body.slice(0, length) });
  });
  const next = () =>
    new Promise<{ status: number; head: string; body: string }>((resolve, reject) => {
      onAnswer = resolve;
      socket.once('error', reject);
      socket.once('close', () => reject(new Error(`connection closed before a complete answer: ${JSON.stringify(raw)}`)));
    });
  const accepted = next();
  socket.write(`GET /healthz HTTP/1.1\r\nHost: ${hostname}:${port}\r\n\r\n`);
  assert.equal((await accepted).status, 200);
  socket.write(`GET /readyz HTTP/1.1\r\nHost: ${hostname}:${port}\r\n`);
  return {
    finish() {
      const answer = next().finally(() => socket.destroy());
      socket.write('\r\n');
      return answer;
    },
  };
}

async function until(what: string, check: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('graceful shutdown under load', function () {
  this.timeout(120_000);
  let server: ServerProcess | undefined;
  let client: RegisteredClient;

  before(async () => {
    // The token endpoint's per-client budget is not under test here. The keep-alive
    // timeout is the default one, which clients reuse connections under; the suite's
    // short one makes fetch open a connection per request.
    const env = await testEnv(await backends[0]!.freshDatabaseUrl(), { RATE_LIMIT_TOKEN_PER_CLIENT: '1000000', KEEP_ALIVE_TIMEOUT: '5' });
    const store = await openStore(env.DATABASE_URL!);
    client = await registerClient(store, new Secrets(TEST_SECRET), { client_name: 'Load', grant_types: ['client_credentials'] });
    await store.close();
    server = await spawnServer(env);
  });
  after(async () => {
    if (server?.child.exitCode === null) server.child.kill('SIGKILL');
  });

  it('on SIGTERM, every request sent on a kept-alive connection gets its whole answer, new connections are refused, and the process exits 0', async () => {
    const srv = server!;
    // Two keep-alive client stacks: node:http's pooled Agent for plain GETs, and
    // openid-client on fetch (undici's pool) for the token endpoint.
    const agent = new Agent({ keepAlive: true, maxSockets: WORKERS / 2 });
    const config = await discover(srv.url, client);
    const tally: Tally = { ok: 0, refused: 0, broken: [], wrong: [], closing: 0, reused: 0 };
    let giveUp = false;

    const plain = async (op: Exclude<Op, 'token'>) => {
      const path = { discovery: '/.well-known/openid-configuration', jwks: '/jwks', readyz: '/readyz' }[op];
      const answer = await get(agent, `${srv.url}${path}`);
      if (answer.reused) tally.reused++;
      if (answer.headers.connection === 'close') tally.closing++;
      const expected = op === 'readyz' ? [200, 503] : [200];
      if (!expected.includes(answer.status)) tally.wrong.push(`${op}: ${answer.status} ${answer.body.slice(0, 200)}`);
      else if (op === 'jwks' && !(JSON.parse(answer.body) as { keys: unknown[] }).keys.length) tally.wrong.push('jwks: no keys');
    };
    const token = async () => {
      const tokens = await oidc.clientCredentialsGrant(config);
      if (!tokens.access_token) tally.wrong.push('token: no access_token');
    };

    // Each worker keeps one request outstanding until the server refuses it a connection.
    const worker = async (w: number) => {
      const ops: Op[] = w % 2 === 0 ? ['discovery', 'jwks', 'readyz', 'jwks'] : ['token'];
      for (let i = 0; !giveUp; i++) {
        const op = ops[i % ops.length]!;
        try {
          await (op === 'token' ? token() : plain(op));
          tally.ok++;
        } catch (err) {
          if (refused(err)) {
            tally.refused++;
            return;
          }
          tally.broken.push(`${op}: ${describeError(err)}`);
          // A broken connection is the failure under test; keep going to see the rest.
        }
      }
    };
    const load = Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
    const safety = setTimeout(() => (giveUp = true), 60_000);

    try {
      await until(`${WARM_UP_REQUESTS} answers before the signal`, () => tally.ok >= WARM_UP_REQUESTS || tally.broken.length > 0);
      const probe = await readyzInFlight(srv.url);
      const okAtSignal = tally.ok;
      srv.child.kill('SIGTERM');

      await until('the server to start draining', () => srv.output().includes('"shutting down"'));
      const readiness = await probe.finish();
      assert.equal(readiness.status, 503, `readiness during the drain:\n${readiness.head}`);
      assert.match(readiness.head, /\r\nretry-after: \d+/i);
      assert.match(readiness.head, /\r\nconnection: close/i, 'a response during the drain tells the client not to reuse its connection');
      assert.equal((JSON.parse(readiness.body) as { reason: string }).reason, 'shutting down');

      await load;
      assert.equal(giveUp, false, 'the load stopped because connections were refused, not on the safety timer');
      assert.deepEqual(tally.broken, [], `requests sent but left without a complete answer (${tally.broken.length})`);
      assert.deepEqual(tally.wrong, []);
      assert.equal(tally.refused, WORKERS, 'every worker stopped on a refused connection once the server stopped accepting');
      assert.ok(tally.reused > 0, 'requests went over kept-alive connections');
      assert.ok(tally.ok > okAtSignal, 'requests were still being answered after the signal');
      assert.ok(tally.closing > 0, 'some kept-alive connections were mid-request during the drain and were closed after their answer');

      assert.equal(await srv.stop(), 0, srv.output().slice(-2000));
      const out = srv.output();
      assert.ok(out.indexOf('"shutting down"') < out.indexOf('"gatehouse stopped"'));
      assert.doesNotMatch(out, /shutdown failed/);
    } finally {
      clearTimeout(safety);
      giveUp = true;
      await load;
      agent.destroy();
    }
  });
});
