/**
 * The load generator, run as its own (pinned) process so it never shares an event loop or
 * a core with the server or the orchestrator. It receives one LoadSpec over IPC, runs the
 * warm-up and then the measured phase, and sends back one LoadResult.
 *
 * - `http`: autocannon (fixed request, keep-alive, N connections).
 * - `refresh`: N chains of refresh-token rotation; each answer carries the next token.
 * - `login`: N people logging in through the hosted form, each in their own browser.
 * - `hash`: argon2 verify alone with the app's parameters (run on the server's core).
 */
import autocannon from 'autocannon';
import argon2 from 'argon2';
import { Browser } from './browser.js';
import { basicAuth, httpRequest, keepAliveAgent, percentile } from './http.js';
import type { LoadResult, LoadSpec, Latency, Timeline } from './load.js';
import { ARGON2_PARAMS } from '../../src/accounts/passwords.js';

const now = () => performance.now();

/** Tells the orchestrator the measured phase starts, so it can read the server's CPU time. */
const measuring = () => process.send!({ measuring: true });

function summarise(latencies: number[]): Latency {
  latencies.sort((a, b) => a - b);
  const mean = latencies.length ? latencies.reduce((a, b) => a + b, 0) / latencies.length : 0;
  return { p50: percentile(latencies, 50), p90: percentile(latencies, 90), p99: percentile(latencies, 99), max: latencies.at(-1) ?? 0, mean };
}

async function runHttp(spec: Extract<LoadSpec, { kind: 'http' }>): Promise<LoadResult> {
  const options = {
    url: spec.url,
    method: spec.method,
    headers: spec.headers,
    ...(spec.body !== undefined ? { body: spec.body } : {}),
    connections: spec.connections,
    pipelining: spec.pipelining,
  };
  if (spec.warmupS > 0) await autocannon({ ...options, duration: spec.warmupS });
  measuring();
  const r = await autocannon({ ...options, duration: spec.durationS });
  const statusCounts = Object.fromEntries(Object.entries(r.statusCodeStats).map(([code, s]) => [code, s.count]));
  const requests = Object.values(statusCounts).reduce((a, b) => a + b, 0);
  const unexpected = Object.entries(statusCounts)
    .filter(([code]) => !spec.expectStatus.includes(Number(code)))
    .reduce((a, [, n]) => a + n, 0);
  return {
    requests,
    durationS: r.duration,
    rps: requests / r.duration,
    latency: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max, mean: r.latency.mean },
    statusCounts,
    socketErrors: r.errors,
    timeouts: r.timeouts,
    errors: unexpected + r.errors + r.timeouts,
  };
}

/**
 * Runs `vus` loops of `iteration` for warm-up then measurement; only iterations finishing
 * in the measured phase count. An iteration returns its status (or throws: a socket error).
 */
async function runLoops(
  vus: number,
  warmupS: number,
  durationS: number,
  expectStatus: number[],
  iteration: (vu: number) => Promise<number>,
): Promise<LoadResult> {
  const latencies: number[] = [];
  const statusCounts: Record<string, number> = {};
  let socketErrors = 0;
  let firstError: string | undefined;
  const t0 = now();
  const measureFrom = t0 + warmupS * 1000;
  const stopAt = measureFrom + durationS * 1000;
  let lastEnd = measureFrom;
  setTimeout(measuring, warmupS * 1000);
  const loop = async (vu: number) => {
    while (now() < stopAt) {
      const start = now();
      let status: number | undefined;
      try {
        status = await iteration(vu);
      } catch (err) {
        status = undefined;
        firstError ??= err instanceof Error ? err.message : String(err);
      }
      const end = now();
      if (start < measureFrom) continue;
      lastEnd = Math.max(lastEnd, end);
      latencies.push(end - start);
      if (status === undefined) socketErrors++;
      else statusCounts[status] = (statusCounts[status] ?? 0) + 1;
      if (status === -1) break; // the VU has nothing left to send
    }
  };
  await Promise.all(Array.from({ length: vus }, (_, i) => loop(i)));
  const requests = latencies.length;
  const elapsed = (lastEnd - measureFrom) / 1000 || durationS;
  const unexpected = Object.entries(statusCounts)
    .filter(([code]) => !expectStatus.includes(Number(code)))
    .reduce((a, [, n]) => a + n, 0);
  return {
    requests,
    durationS: elapsed,
    rps: requests / elapsed,
    latency: summarise(latencies),
    statusCounts,
    socketErrors,
    timeouts: 0,
    errors: unexpected + socketErrors,
    ...(firstError ? { firstError } : {}),
  };
}

async function runRefresh(spec: Extract<LoadSpec, { kind: 'refresh' }>): Promise<LoadResult> {
  const pool = [...spec.tokens];
  const agent = keepAliveAgent(spec.connections);
  const chains: (string | undefined)[] = Array.from({ length: spec.connections }, () => pool.shift());
  const authorization = basicAuth(spec.clientId, spec.clientSecret);
  let chainsRestarted = 0;
  const result = await runLoops(spec.connections, spec.warmupS, spec.durationS, [200], async (vu) => {
    const token = chains[vu];
    if (!token) return -1;
    const res = await httpRequest('POST', spec.tokenEndpoint, {
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization, accept: 'application/json' },
      body: `grant_type=refresh_token&refresh_token=${encodeURIComponent(token)}`,
      agent,
    });
    if (res.status === 200) chains[vu] = (JSON.parse(res.body) as { refresh_token: string }).refresh_token;
    else {
      chains[vu] = pool.shift();
      chainsRestarted++;
    }
    return res.status;
  });
  return { ...result, extra: { chainsRestarted } };
}

async function runLogin(spec: Extract<LoadSpec, { kind: 'login' }>): Promise<LoadResult> {
  const browsers = spec.users.map(() => new Browser());
  // Each person signs in once and consents, outside the measurement.
  await Promise.all(browsers.map((b, i) => b.login(spec.rp, { ...spec.users[i]!, scope: spec.scope, prompt: 'consent' })));
  const pages = { login: 0, consent: 0 };
  const result = await runLoops(browsers.length, spec.warmupS, spec.durationS, [200], async (vu) => {
    // prompt=login: the password form every time, in a browser whose consent is remembered.
    const outcome = await browsers[vu]!.login(spec.rp, { ...spec.users[vu]!, scope: spec.scope, prompt: 'login' });
    pages.login += outcome.pages.login;
    pages.consent += outcome.pages.consent;
    return 200;
  });
  return { ...result, extra: { pagesSeen: pages } };
}

async function runHash(spec: Extract<LoadSpec, { kind: 'hash' }>): Promise<LoadResult> {
  const password = 'quiet harbour lantern 7429';
  const hash = await argon2.hash(password, ARGON2_PARAMS);
  // One at a time first: the cost of a single verify.
  const single: number[] = [];
  const singleUntil = now() + Math.min(2000, spec.durationS * 500);
  while (now() < singleUntil) {
    const t = now();
    await argon2.verify(hash, password);
    single.push(now() - t);
  }
  const result = await runLoops(spec.concurrency, spec.warmupS, spec.durationS, [200], async () => ((await argon2.verify(hash, password)) ? 200 : 401));
  const { type, ...params } = ARGON2_PARAMS;
  return {
    ...result,
    extra: {
      params: { algorithm: type === argon2.argon2id ? 'argon2id' : String(type), ...params },
      singleVerifyMs: summarise(single),
      threadpool: Number(process.env.UV_THREADPOOL_SIZE ?? 4),
    },
  };
}

/** The soak mix: each connection takes the next request of the round-robin list. */
async function runMix(spec: Extract<LoadSpec, { kind: 'mix' }>): Promise<LoadResult> {
  const agent = keepAliveAgent(spec.connections);
  const buckets = new Map<number, Record<string, Record<string, number>>>();
  const note = (label: string, status: string) => {
    const t = Math.floor(Date.now() / 1000);
    let bucket = buckets.get(t);
    if (!bucket) buckets.set(t, (bucket = {}));
    const byStatus = (bucket[label] ??= {});
    byStatus[status] = (byStatus[status] ?? 0) + 1;
  };
  let next = 0;
  const expected = [200];
  const result = await runLoops(spec.connections, spec.warmupS, spec.durationS, expected, async () => {
    const r = spec.requests[next++ % spec.requests.length]!;
    try {
      const res = await httpRequest(r.method, r.url, { headers: r.headers, ...(r.body !== undefined ? { body: r.body } : {}), agent, timeoutMs: spec.timeoutMs });
      note(r.label, String(res.status));
      return res.status;
    } catch (err) {
      note(r.label, 'error');
      throw err;
    }
  });
  const timeline: Timeline = [...buckets].sort(([a], [b]) => a - b).map(([t, counts]) => ({ t, counts }));
  return { ...result, extra: { timeline } };
}

process.once('message', (spec: LoadSpec) => {
  const run =
    spec.kind === 'http'
      ? runHttp(spec)
      : spec.kind === 'refresh'
        ? runRefresh(spec)
        : spec.kind === 'login'
          ? runLogin(spec)
          : spec.kind === 'mix'
            ? runMix(spec)
            : runHash(spec);
  run.then(
    (result) => process.send!({ ok: true, result }, () => process.exit(0)),
    (err: unknown) => process.send!({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }, () => process.exit(1)),
  );
});
process.send!({ ready: true });
