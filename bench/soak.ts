/**
 * `npm run soak`: two Gatehouse processes on one MongoDB-wire database under a
 * round-robin mix (client_credentials, introspection, /api/validate with an API key,
 * userinfo) for a fixed time, with the database stopped and restarted once in the middle.
 *
 * Fails (exit 1) when: any 5xx other than 503 is answered; a 503 or an unanswered request
 * falls outside the outage window (database down → back + recovery grace); the seeded
 * users, API key or permission no longer work afterwards; or a server's memory grew
 * (last-minute average vs the first full minute after warm-up).
 *
 * Database: a throw-away FerretDB started here (as the tests do); with MONGODB_URI set,
 * that server is used and the outage is skipped (we cannot stop it).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Browser } from './lib/browser.js';
import { buildServer, discover, mongoDeployment, ROOT, seed, serverCode, startGatehouse, WEB_TOOL, webRelyingParty, type GatehouseProcess } from './lib/gatehouse.js';
import { basicAuth, jsonRequest } from './lib/http.js';
import { runLoad, type MixRequest, type Timeline } from './lib/load.js';
import { machineFacts } from './lib/machine.js';
import { defaultPinning, freePort, MemoryWatch, sleep } from './lib/proc.js';

const USAGE = `usage: npm run soak -- [--duration S] [--outage S] [--no-outage] [--connections N] [--recovery-grace S]
  --duration S        seconds of load (default 300)
  --outage S          seconds the database stays down, in the middle of the run (default 10)
  --no-outage         keep the database up
  --connections N     keep-alive connections of the load generator (default 8)
  --recovery-grace S  seconds after the database is back during which 503s still count as the outage (default 30)
  --growth-limit P    percent the last-minute RSS average may exceed the first minute's (default 10)
  --build             run \`npm run build\` first (production runs the compiled dist/ when it exists)`;

const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '300' },
    outage: { type: 'string', default: '10' },
    'no-outage': { type: 'boolean', default: false },
    connections: { type: 'string', default: '8' },
    'recovery-grace': { type: 'string', default: '30' },
    'growth-limit': { type: 'string', default: '10' },
    build: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}
const positive = (v: string, name: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) {
    console.error(`--${name} must be a positive number\n${USAGE}`);
    process.exit(2);
  }
  return n;
};
const durationS = positive(flags.duration, 'duration');
const outageS = positive(flags.outage, 'outage');
const connections = Math.round(positive(flags.connections, 'connections'));
const graceS = positive(flags['recovery-grace'], 'recovery-grace');
const growthLimit = positive(flags['growth-limit'], 'growth-limit') / 100;
/** Memory is compared between windows of this length: the first after warm-up, and the last. */
const windowS = Math.min(60, durationS / 4);
const warmupS = Math.min(30, durationS / 8);

const log = (msg: string) => process.stderr.write(`[soak] ${msg}\n`);
const cleanups: (() => Promise<void>)[] = [];
async function cleanup() {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void cleanup().then(() => process.exit(130)));

interface MemorySummary {
  startMB: number;
  peakMB: number;
  endMB: number;
  firstWindowMB: number | null;
  lastWindowMB: number | null;
  growthPct: number | null;
  grew: boolean;
}

function memorySummary(series: { t: number; rssMB: number }[], loadStart: number): MemorySummary {
  const avg = (from: number, to: number) => {
    const xs = series.filter((s) => s.t >= from && s.t < to).map((s) => s.rssMB);
    return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
  };
  const end = series.at(-1)?.t ?? loadStart;
  const firstFrom = loadStart + warmupS * 1000;
  const first = avg(firstFrom, firstFrom + windowS * 1000);
  const last = avg(end - windowS * 1000, end + 1);
  const growth = first && last ? (last - first) / first : null;
  const r = (n: number) => Math.round(n * 10) / 10;
  return {
    startMB: r(series[0]?.rssMB ?? 0),
    peakMB: r(Math.max(0, ...series.map((s) => s.rssMB))),
    endMB: r(series.at(-1)?.rssMB ?? 0),
    firstWindowMB: first === null ? null : r(first),
    lastWindowMB: last === null ? null : r(last),
    growthPct: growth === null ? null : r(growth * 100),
    // Both relative and absolute, so a few MB of noise on a small heap do not fail the run.
    grew: growth !== null && growth > growthLimit && last! - first! > 10,
  };
}

async function main(): Promise<boolean> {
  if (flags.build) await buildServer();
  const code = serverCode();
  log(`server code: ${code.describe}`);
  const facts = machineFacts();
  const problems: string[] = [];
  log(`${facts.cpuModel}, ${facts.cores} cores, load ${facts.loadAvgAtStart.join(' ')}; ${durationS} s, ${connections} connections`);

  // The database: ours to stop and restart, unless MONGODB_URI names one.
  const { startFerretdb } = await import('../test/helpers/mongo-server.js');
  let uri: string;
  let outage: { down(): Promise<void>; up(): Promise<void> } | undefined;
  if (process.env.MONGODB_URI) {
    uri = process.env.MONGODB_URI;
    log('MONGODB_URI is set: using it; the outage is skipped (this script cannot stop that server)');
  } else {
    const ferret = await startFerretdb();
    cleanups.push(() => ferret.stop());
    uri = ferret.uri;
    if (!flags['no-outage']) outage = ferret;
  }
  const deployment = mongoDeployment(uri);
  cleanups.push(async () => deployment.cleanup());

  // Two instances on the one database. Not pinned: two servers, the load and the database share the cores.
  // One ISSUER for both, as behind a load balancer (A's address plays the balancer's).
  const pinning = defaultPinning(undefined, undefined, true);
  const portA = await freePort();
  const shared = { ISSUER: `http://127.0.0.1:${portA}` };
  const a = await startGatehouse(deployment, { cpus: pinning.server, port: portA, env: shared });
  cleanups.push(() => a.stop());
  const seeded = await seed(a, 1);
  const b = await startGatehouse(deployment, { cpus: pinning.server, env: shared });
  cleanups.push(() => b.stop());
  const servers: [string, GatehouseProcess][] = [
    ['A', a],
    ['B', b],
  ];
  log(`instances up: A ${a.url} (ready in ${Math.round(a.readyMs)} ms), B ${b.url} (ready in ${Math.round(b.readyMs)} ms)`);

  const disc = await discover(a.url);
  const rp = webRelyingParty(disc, seeded);
  const person = seeded.users[0]!;
  const { tokens } = await new Browser().login(rp, { ...person, scope: 'openid email profile', prompt: 'consent' });

  // Each instance serves every kind; the list alternates instances so each connection spreads over both.
  const form = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  const path = (endpoint: string) => new URL(endpoint).pathname;
  const kinds = (name: string, s: GatehouseProcess): MixRequest[] => [
    { label: `client_credentials@${name}`, method: 'POST', url: `${s.url}${path(disc.token_endpoint)}`, headers: { ...form, authorization: basicAuth(seeded.machine.clientId, seeded.machine.clientSecret) }, body: 'grant_type=client_credentials' },
    { label: `introspection@${name}`, method: 'POST', url: `${s.url}${path(disc.introspection_endpoint)}`, headers: { ...form, authorization: basicAuth(seeded.web.clientId, seeded.web.clientSecret) }, body: `token=${tokens.access_token}` },
    { label: `validate@${name}`, method: 'POST', url: `${s.url}/api/validate`, headers: { 'content-type': 'application/json', authorization: `Bearer ${seeded.userKey}` }, body: JSON.stringify({ tool: WEB_TOOL }) },
    { label: `userinfo@${name}`, method: 'GET', url: `${s.url}${path(disc.userinfo_endpoint)}`, headers: { authorization: `Bearer ${tokens.access_token}` } },
  ];
  const [ka, kb] = [kinds('A', a), kinds('B', b)];
  const requests = ka.flatMap((r, i) => (i % 2 ? [kb[i]!, r] : [r, kb[i]!]));

  const watches = servers.map(([, s]) => new MemoryWatch(s.pid, 2000, true).start());
  const loadStart = Date.now();
  const load = runLoad({ kind: 'mix', requests, connections, durationS, warmupS: 0, timeoutMs: 15_000 }, null);

  let downAt: number | undefined;
  let upAt: number | undefined;
  if (outage) {
    await sleep(Math.max(0, (durationS / 2 - outageS / 2) * 1000));
    log('stopping the database');
    downAt = Date.now();
    await outage.down();
    await sleep(outageS * 1000);
    log('starting the database again');
    await outage.up();
    upAt = Date.now();
    log('database back');
  }
  const result = await load;
  const memory = watches.map((w, i) => {
    w.stop();
    return { server: servers[i]![0], ...memorySummary(w.series, loadStart) };
  });

  // Answers by status, and where the bad ones fell.
  const timeline = (result.extra?.timeline ?? []) as Timeline;
  const totals: Record<string, Record<string, number>> = {};
  const outside: string[] = [];
  const windowFrom = downAt === undefined ? Infinity : Math.floor(downAt / 1000);
  const windowTo = upAt === undefined ? -Infinity : Math.ceil(upAt / 1000 + graceS);
  let lastBadDuringOutage: number | undefined;
  for (const { t, counts } of timeline) {
    const inOutage = t >= windowFrom && t <= windowTo;
    for (const [label, byStatus] of Object.entries(counts)) {
      const kind = label.split('@')[0]!;
      for (const [status, n] of Object.entries(byStatus)) {
        (totals[kind] ??= {})[status] = (totals[kind]![status] ?? 0) + n;
        const isError = status === 'error' || Number(status) >= 500;
        const at = `+${t - Math.floor(loadStart / 1000)} s`;
        // Every request is valid: a 4xx is a credential wrongly refused, a 5xx other than 503 a failure.
        if (status !== 'error' && Number(status) >= 400 && status !== '503') outside.push(`${n}× ${status} from ${label} at ${at}`);
        else if (isError && !inOutage) outside.push(`${n}× ${status} from ${label} at ${at} (outside the outage window)`);

        else if (isError && t > Math.floor((upAt ?? 0) / 1000)) lastBadDuringOutage = Math.max(lastBadDuringOutage ?? 0, t);
      }
    }
  }
  if (outside.length) problems.push(`unexpected answers: ${outside.slice(0, 10).join('; ')}${outside.length > 10 ? ` … (${outside.length} entries)` : ''}`);
  const recoveredAfterS = upAt === undefined ? null : lastBadDuringOutage === undefined ? 0 : lastBadDuringOutage + 1 - upAt / 1000;

  // The data must have survived, and still work on both instances.
  const checks: { check: string; ok: boolean; detail?: string }[] = [];
  const check = async (name: string, f: () => Promise<string | undefined>) => {
    try {
      const problem = await f();
      checks.push({ check: name, ok: !problem, ...(problem ? { detail: problem } : {}) });
    } catch (err) {
      checks.push({ check: name, ok: false, detail: (err as Error).message.slice(0, 300) });
    }
  };
  const admin = { authorization: `Bearer ${seeded.adminKey}` };
  for (const [name, s] of servers) {
    await check(`API key validates at ${name}`, async () => {
      const answer = await jsonRequest<{ valid: boolean; permission: string | null }>('POST', `${s.url}/api/validate`, {
        headers: { authorization: `Bearer ${seeded.userKey}` },
        json: { tool: WEB_TOOL },
        expected: 200,
      });
      return answer.valid && answer.permission === 'write' ? undefined : `answer: ${JSON.stringify(answer)}`;
    });
  }
  await check('user still exists', async () => {
    const user = await jsonRequest<{ email: string; status: string }>('GET', `${b.url}/api/users/${person.id}`, { headers: admin });
    return user.email === person.email && user.status === 'active' ? undefined : `user: ${JSON.stringify(user)}`;
  });
  await check('permission still granted', async () => {
    const { data } = await jsonRequest<{ data: { tool: string; level: string }[] }>('GET', `${a.url}/api/users/${person.id}/permissions`, { headers: admin });
    return data.some((p) => p.tool === WEB_TOOL && p.level === 'write') ? undefined : `permissions: ${JSON.stringify(data)}`;
  });
  await check('API key still listed, not revoked', async () => {
    const { data } = await jsonRequest<{ data: { prefix: string; revoked_at: string | null }[] }>('GET', `${b.url}/api/keys?user_id=${person.id}`, { headers: admin });
    return data.some((k) => seeded.userKey.startsWith(k.prefix) && k.revoked_at === null) ? undefined : `keys: ${JSON.stringify(data)}`;
  });
  await check('the person can still sign in (at B)', async () => {
    const outcome = await new Browser().login({ ...rp, authorizationEndpoint: `${b.url}/auth`, tokenEndpoint: `${b.url}/token` }, { ...person, scope: 'openid', prompt: 'login' });
    return outcome.tokens.access_token ? undefined : 'no access token';
  });
  for (const c of checks.filter((c) => !c.ok)) problems.push(`${c.check}: ${c.detail}`);
  for (const m of memory.filter((m) => m.grew)) problems.push(`server ${m.server}: memory grew ${m.growthPct}% (${m.firstWindowMB} → ${m.lastWindowMB} MB)`);

  // Report
  console.log('');
  console.log(`Soak: ${durationS} s, ${connections} connections over 2 instances on ${process.env.MONGODB_URI ? 'MONGODB_URI' : 'FerretDB'}; ${Math.round(result.rps)} answers/s overall`);
  if (downAt !== undefined && upAt !== undefined) {
    console.log(`Database down at +${((downAt - loadStart) / 1000).toFixed(1)} s for ${((upAt - downAt) / 1000).toFixed(1)} s; errors stopped ${recoveredAfterS!.toFixed(0)} s after it was back (grace ${graceS} s)`);
  } else console.log('No database outage in this run');
  console.log('');
  console.log('Answers by kind and status:');
  for (const [kind, byStatus] of Object.entries(totals)) {
    console.log(`  ${kind.padEnd(20)} ${Object.entries(byStatus).sort().map(([s, n]) => `${s}: ${n}`).join(', ')}`);
  }
  console.log('');
  console.log(`Memory (RSS, MB; windows of ${windowS.toFixed(0)} s, first after ${warmupS.toFixed(0)} s warm-up):`);
  for (const m of memory) {
    console.log(`  ${m.server}: start ${m.startMB}, peak ${m.peakMB}, end ${m.endMB}; first window ${m.firstWindowMB ?? '–'} → last window ${m.lastWindowMB ?? '–'} (${m.growthPct ?? '–'}%) ${m.grew ? 'GREW' : 'flat'}`);
  }
  if (durationS < 120) console.log('  (a run this short cannot show slow growth; use the default 300 s)');
  console.log('');
  console.log('After the run:');
  for (const c of checks) console.log(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.check}${c.detail ? `: ${c.detail}` : ''}`);
  console.log('');
  console.log(problems.length ? `FAILED:\n${problems.map((p) => `  - ${p}`).join('\n')}` : 'PASSED');

  const dir = join(ROOT, 'bench/results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `soak-${new Date(loadStart).toISOString().replace(/[:.]/g, '-')}.json`);
  const report = {
    startedAt: new Date(loadStart).toISOString(),
    machine: facts,
    settings: { serverCode: code.describe, durationS, outageS: outage ? outageS : 0, connections, graceS, growthLimitPct: growthLimit * 100, windowS, warmupS, database: process.env.MONGODB_URI ? 'MONGODB_URI' : 'FerretDB' },
    outage: downAt !== undefined ? { downAtS: (downAt - loadStart) / 1000, upAtS: (upAt! - loadStart) / 1000, recoveredAfterS } : null,
    totals,
    load: { ...result, extra: undefined },
    timeline: timeline.map(({ t, counts }) => ({ s: t - Math.floor(loadStart / 1000), counts })),
    memory,
    memorySeries: watches.map((w, i) => ({ server: servers[i]![0], series: w.series.map((p) => ({ s: Math.round((p.t - loadStart) / 100) / 10, rssMB: Math.round(p.rssMB * 10) / 10 })) })),
    checks,
    problems,
    passed: problems.length === 0,
  };
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`results: ${file}`);
  return problems.length === 0;
}

main()
  .then(async (ok) => {
    await cleanup();
    process.exit(ok ? 0 : 1);
  })
  .catch(async (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    await cleanup();
    process.exit(1);
  });
