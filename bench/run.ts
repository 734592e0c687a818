/**
 * `npm run bench`: Gatehouse's benchmark suite (issue #7). Starts the provider itself on
 * each store, its baselines beside it, and drives every scenario from a separate load
 * generator process; prints a table and writes bench/results/<timestamp>.json and
 * bench/results/latest.json. See docs/benchmarks.md, or `npm run bench -- --help`.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { decodeProtectedHeader } from 'jose';
import { BASELINE_CLIENT } from './baseline/shared.js';
import { Browser, type RelyingParty } from './lib/browser.js';
import {
  API_RESOURCE,
  discover,
  mongoDeployment,
  webRelyingParty,
  ROOT,
  seed,
  buildServer,
  serverCode,
  sqliteDeployment,
  startGatehouse,
  type Deployment,
  type Discovery,
  type GatehouseProcess,
  type Seed,
  type StoreKind,
} from './lib/gatehouse.js';
import { basicAuth, httpRequest, jsonRequest } from './lib/http.js';
import { runLoad, type LoadSpec } from './lib/load.js';
import { runtimeTuning } from './lib/runtime-tuning.js';
import { machineFacts } from './lib/machine.js';
import { captureTail, cpuProfileArgs, defaultPinning, freePort, CpuMeter, MemoryWatch, nodeChildren, rssOf, sleep, spawnPinned, stopProcess, waitReady } from './lib/proc.js';
import { ANCHORS, compareWithinRounds, markdownReport, medianRounds, textTable, type Row, type RunResults, type StartupFigure } from './lib/results.js';

const RESULTS_DIR = join(ROOT, 'bench/results');

/** What the RS256 row sets on a second server; the row checks the `alg` of an issued token. */
const RS256_SERVER_ENV = { ACCESS_TOKEN_SIGNING_ALG: 'RS256' };
/** Every /api/validate request verifies the JWT's signature again. */
const UNCACHED_JWT_SERVER_ENV = { JWT_CACHE_SIZE: '0' };
/** `NAME=value` pairs of a server's extra environment, for row names and notes. */
const envLabel = (env: Record<string, string>) => Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ');

const RSS_LIMIT_MB = 200;
const STARTUP_LIMIT_MS = 1500;

const USAGE = `usage: npm run bench -- [options]
  --only 1,3            scenarios to run (1–7; default all)
  --store sqlite|mongodb|all
                        default: sqlite, plus mongodb when MONGODB_URI is set or FerretDB is installed
  --duration S          measured seconds per row (default 10; smoke 1.5)
  --warmup S            warm-up seconds per row (default 3; smoke 0.5)
  --connections N       keep-alive connections (default 32; smoke 8)
  --pipelining N        HTTP pipelining (default 1)
  --login-vus N         people logging in at once in scenario 6 (default 8; smoke 2)
  --rounds N            run every scenario N times in turn; each row shows its median round (default 1)
  --smoke               seconds per row, for CI: figures mean nothing, failures do
  --no-cluster          skip the rows with node:cluster workers (scenario 1 WORKERS=1/2, scenario 3 WORKERS=2)
  --no-pin              do not pin with taskset
  --build               run \`npm run build\` first (production runs the compiled dist/ when it exists)
  --server-cpus LIST    taskset list for servers (default 0)
  --load-cpus LIST      taskset list for the load generator (default: the last core)
  --profile DIR         run every server (baselines too) with --cpu-prof: DIR/<server>/*.cpuprofile
                        (open them in Chrome DevTools or speedscope; figures drop while profiling)
  --markdown [--input FILE] [--update-docs]
                        print the markdown results section from bench/results/latest.json (or FILE) and exit;
                        --update-docs also writes it into docs/benchmarks.md between the results markers
Environment: BENCH_ONLY, BENCH_STORE, BENCH_DURATION, BENCH_CONNECTIONS, BENCH_PROFILE_DIR mirror the flags; MONGODB_URI.`;

const { values: flags } = parseArgs({
  options: {
    only: { type: 'string' },
    store: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    connections: { type: 'string' },
    pipelining: { type: 'string' },
    'login-vus': { type: 'string' },
    rounds: { type: 'string' },
    smoke: { type: 'boolean', default: false },
    'no-cluster': { type: 'boolean', default: false },
    'no-pin': { type: 'boolean', default: false },
    build: { type: 'boolean', default: false },
    'server-cpus': { type: 'string' },
    'load-cpus': { type: 'string' },
    profile: { type: 'string' },
    markdown: { type: 'boolean', default: false },
    'update-docs': { type: 'boolean', default: false },
    input: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}
// Read where servers start (bench/lib/gatehouse.ts); `BENCH_PROFILE_DIR=… npm run soak` works too.
if (flags.profile) process.env.BENCH_PROFILE_DIR = resolve(flags.profile);
if (flags.markdown || flags['update-docs']) {
  const file = flags.input ?? join(RESULTS_DIR, 'latest.json');
  const section = markdownReport(JSON.parse(readFileSync(file, 'utf8')) as RunResults);
  console.log(section);
  if (flags['update-docs']) {
    const docs = join(ROOT, 'docs/benchmarks.md');
    const [start, end] = ['<!-- bench-results:start -->', '<!-- bench-results:end -->'];
    const text = readFileSync(docs, 'utf8');
    const from = text.indexOf(start);
    const to = text.indexOf(end);
    if (from === -1 || to < from) {
      console.error(`docs/benchmarks.md has no ${start} … ${end} section to replace`);
      process.exit(1);
    }
    writeFileSync(docs, `${text.slice(0, from + start.length)}\n${section}\n${text.slice(to)}`);
    console.error(`updated ${docs}`);
  }
  process.exit(0);
}

const smoke = flags.smoke;
const num = (v: string | undefined, fallback: number) => {
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) {
    console.error(`not a positive number: ${v}\n${USAGE}`);
    process.exit(2);
  }
  return n;
};
const settings = {
  durationS: num(flags.duration ?? process.env.BENCH_DURATION, smoke ? 1.5 : 10),
  warmupS: num(flags.warmup, smoke ? 0.5 : 3),
  connections: Math.round(num(flags.connections ?? process.env.BENCH_CONNECTIONS, smoke ? 8 : 32)),
  pipelining: Math.round(num(flags.pipelining, 1)),
  loginVus: Math.round(num(flags['login-vus'], smoke ? 2 : 8)),
  rounds: Math.round(num(flags.rounds, 1)),
};
const onlyText = flags.only ?? process.env.BENCH_ONLY;
const scenarios = onlyText ? [...new Set(onlyText.split(',').map((s) => Number(s.trim())))].sort() : [1, 2, 3, 4, 5, 6, 7];
if (scenarios.some((s) => !Number.isInteger(s) || s < 1 || s > 7)) {
  console.error(`--only takes scenario numbers 1–7\n${USAGE}`);
  process.exit(2);
}
const wants = (n: number) => scenarios.includes(n);
const pinning = defaultPinning(flags['server-cpus'], flags['load-cpus'], flags['no-pin']);
const allCores = `0-${cpus().length - 1}`;

// -----------------------------------------------------------------------------------------
// Bookkeeping: every process we start is stopped on the way out, whatever happens.

const cleanups: (() => Promise<void>)[] = [];
async function cleanup() {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    void cleanup().then(() => process.exit(130));
  });
}

const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

// -----------------------------------------------------------------------------------------
// The systems under test

interface Target {
  store: StoreKind;
  deployment: Deployment;
  server: GatehouseProcess;
  seed: Seed;
  disc: Discovery;
  rp: RelyingParty;
  /** A person's opaque access token (openid email profile) at the web tool. */
  opaqueToken: string;
  /** A person's JWT access token for API_RESOURCE, issued to the web tool. */
  personJwt: string;
  /** A client_credentials JWT of the machine tool. */
  machineJwt: string;
}

async function ccToken(tokenEndpoint: string, clientId: string, secret: string): Promise<string> {
  const body = await jsonRequest<{ access_token: string }>('POST', tokenEndpoint, {
    headers: { authorization: basicAuth(clientId, secret) },
    form: { grant_type: 'client_credentials' },
    expected: 200,
  });
  return body.access_token;
}

/** Fresh deployment: first start (timed), seed, restart on the seeded database (timed), tokens. */
async function setUpTarget(store: StoreKind, deployment: Deployment, startup: StartupFigure[]): Promise<Target> {
  cleanups.push(async () => deployment.cleanup());
  log(`${store}: first start on an empty database`);
  const first = await startGatehouse(deployment, { cpus: pinning.server });
  cleanups.push(() => first.stop());
  const judged = (ms: number) => (store === 'sqlite' ? ms < STARTUP_LIMIT_MS : null);
  startup.push({ store, database: 'fresh', ms: Math.round(first.readyMs), rssMB: mb(rssOf(first.pid)), pass: judged(first.readyMs) });
  log(`${store}: ready in ${Math.round(first.readyMs)} ms; seeding`);
  const seeded = await seed(first, 1 + settings.loginVus);
  await first.stop();
  const server = await startGatehouse(deployment, { cpus: pinning.server });
  cleanups.push(() => server.stop());
  startup.push({ store, database: 'existing', ms: Math.round(server.readyMs), rssMB: mb(rssOf(server.pid)), pass: judged(server.readyMs) });
  log(`${store}: restarted in ${Math.round(server.readyMs)} ms; preparing tokens`);
  const disc = await discover(server.url);
  const rp = webRelyingParty(disc, seeded);
  const person = seeded.users[0]!;
  const opaque = await new Browser().login(rp, { ...person, scope: 'openid email profile', prompt: 'consent' });
  const jwt = await new Browser().login(rp, { ...person, scope: 'openid', prompt: 'consent', resource: API_RESOURCE });
  const machineJwt = await ccToken(disc.token_endpoint, seeded.machine.clientId, seeded.machine.clientSecret);
  return { store, deployment, server, seed: seeded, disc, rp, opaqueToken: opaque.tokens.access_token, personJwt: jwt.tokens.access_token, machineJwt };
}

/** `n` refresh tokens of separate grants (one login each, in its own browser). */
async function refreshPool(t: Target, n: number): Promise<string[]> {
  const out: string[] = [];
  const person = t.seed.users[0]!;
  for (let i = 0; i < n; i += 4) {
    const batch = Array.from({ length: Math.min(4, n - i) }, () =>
      new Browser().login(t.rp, { ...person, scope: 'openid email profile offline_access', prompt: 'consent' }).then((o) => o.tokens.refresh_token!),
    );
    out.push(...(await Promise.all(batch)));
  }
  return out;
}

interface Baseline {
  url: string;
  pid: number;
  store: BareStore;
  disc: Discovery;
  stop(): Promise<void>;
}

/** What the bare library keeps its state in: memory (the targets' reference) or a SQLite file. */
type BareStore = 'memory' | 'sqlite';
const BARE_STORE_NAMES: Record<BareStore, string> = { memory: 'bare oidc-provider, memory', sqlite: 'bare oidc-provider, SQLite adapter' };

async function startBareProvider(alg: 'ES256' | 'RS256', store: BareStore = 'memory'): Promise<Baseline> {
  const port = await freePort();
  let storeEnv: Record<string, string> = {};
  if (store === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-bare-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    storeEnv = { STORE: 'sqlite', DB_FILE: join(dir, 'bare.db') };
  }
  const started = process.hrtime.bigint();
  const child = spawnPinned(pinning.server, process.execPath, [...cpuProfileArgs(`bare-provider-${alg}-${store}`), '--import', 'tsx', join(ROOT, 'bench/baseline/bare-provider.ts')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...runtimeTuning(), NODE_ENV: 'production', PORT: String(port), ALG: alg, RESOURCE: API_RESOURCE, ...storeEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = captureTail(child);
  const url = `http://127.0.0.1:${port}`;
  await waitReady(`${url}/.well-known/openid-configuration`, child, started, output);
  const stop = () => stopProcess(child);
  cleanups.push(stop);
  return { url, pid: child.pid!, store, disc: await discover(url), stop };
}

async function startJoseVerify(targets: { issuer: string; jwksUri: string; audiences: string[] }[]): Promise<{ url: string; pid: number }> {
  const port = await freePort();
  const started = process.hrtime.bigint();
  const child = spawnPinned(pinning.server, process.execPath, [...cpuProfileArgs('jose-verify'), '--import', 'tsx', join(ROOT, 'bench/baseline/jose-verify.ts')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...runtimeTuning(), NODE_ENV: 'production', PORT: String(port), TARGETS: JSON.stringify(targets) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = captureTail(child);
  const url = `http://127.0.0.1:${port}`;
  await waitReady(`${url}/healthz`, child, started, output);
  cleanups.push(() => stopProcess(child));
  return { url, pid: child.pid! };
}

// -----------------------------------------------------------------------------------------
// Rows

const mb = (bytes: number | undefined) => (bytes === undefined ? null : Math.round((bytes / 2 ** 20) * 10) / 10);
const rows: Row[] = [];
/** The round being measured (--rounds), stamped on each row. */
let currentRound = 1;

type Goal = { kind: 'ratio'; min: number } | { kind: 'rps'; min: number; p99MaxMs?: number } | { kind: 'hash'; min: number } | { kind: 'none' };
const targetDefs = new Map<string, Goal>();

const phases = () => ({ warmupS: settings.warmupS, durationS: settings.durationS });

interface Probe {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: string;
  expect: number[];
  /** Extra check of the answer; returns a problem or undefined. */
  check?: (status: number, body: string, headers: Record<string, unknown>) => string | undefined;
}

/** One request first, so a misconfigured row fails with a reason instead of 10 s of errors. */
async function probe(p: Probe): Promise<string | undefined> {
  try {
    const res = await httpRequest(p.method, p.url, { headers: p.headers, ...(p.body !== undefined ? { body: p.body } : {}) });
    if (!p.expect.includes(res.status)) return `probe answered ${res.status}: ${res.body.slice(0, 200)}`;
    return p.check?.(res.status, res.body, res.headers);
  } catch (err) {
    return `probe failed: ${(err as Error).message}`;
  }
}

/** Measures one row: probe, then load from the load generator while the server's memory is watched. */
async function measure(row: Omit<Row, 'status'>, spec: LoadSpec, serverPid: number | null, p?: Probe, target: Goal = { kind: 'none' }): Promise<Row> {
  const full: Row = { ...row, round: currentRound, status: 'measured' };
  rows.push(full);
  targetDefs.set(full.key, target);
  const problem = p ? await probe(p) : undefined;
  if (problem) {
    full.status = 'failed';
    full.note = [full.note, problem].filter(Boolean).join('; ');
    log(`${full.key}: ${problem}`);
    return full;
  }
  const connections = 'connections' in spec ? spec.connections : undefined;
  const vus = spec.kind === 'login' ? spec.users.length : spec.kind === 'hash' ? spec.concurrency : undefined;
  full.settings = {
    ...(connections !== undefined ? { connections } : {}),
    ...(vus !== undefined ? { vus } : {}),
    ...(spec.kind === 'http' ? { pipelining: spec.pipelining } : {}),
    durationS: spec.durationS,
    warmupS: spec.warmupS,
  };
  const watch = serverPid === null ? undefined : new MemoryWatch(serverPid).start();
  const cpu = serverPid === null ? undefined : new CpuMeter(serverPid);
  try {
    full.load = await runLoad(spec, spec.kind === 'hash' ? pinning.server : pinning.load, () => cpu?.start());
  } catch (err) {
    full.status = 'failed';
    full.note = [full.note, (err as Error).message.split('\n')[0]].filter(Boolean).join('; ');
  }
  if (watch) full.memory = watch.stop();
  const cpuSeconds = cpu?.stop();
  if (cpuSeconds !== undefined && full.load?.requests) full.cpuUsPerRequest = (cpuSeconds * 1e6) / full.load.requests;
  if (full.memory?.largestProcessMB) full.note = [full.note, `largest single process ${Math.round(full.memory.largestProcessMB)} MB`].filter(Boolean).join('; ');
  if (full.load?.firstError) full.note = [full.note, `first failure: ${full.load.firstError.slice(0, 200)}`].filter(Boolean).join('; ');
  const l = full.load;
  log(`${full.key}: ${l ? `${Math.round(l.rps)} req/s, p99 ${l.latency.p99.toFixed(1)} ms, ${l.errors} errors` : full.status}${full.memory ? `, peak RSS ${full.memory.peakMB ?? '?'} MB` : ''}`);
  return full;
}

function unavailable(row: Omit<Row, 'status'>, why: string): void {
  rows.push({ ...row, round: currentRound, status: 'not available', note: why, pass: null });
  log(`${row.key}: not available — ${why}`);
}

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const formHeaders = (authorization: string) => ({ 'content-type': 'application/x-www-form-urlencoded', authorization, accept: 'application/json' });

function httpSpec(method: 'GET' | 'POST', url: string, headers: Record<string, string>, body: string | undefined, expectStatus: number[]): LoadSpec {
  return {
    kind: 'http',
    method,
    url,
    headers,
    ...(body !== undefined ? { body } : {}),
    connections: settings.connections,
    pipelining: settings.pipelining,
    expectStatus,
    ...phases(),
  };
}

/** A request against one system, as a load spec and its probe. */
function request(method: 'GET' | 'POST', url: string, headers: Record<string, string>, body: string | undefined, expect: number[], check?: Probe['check']) {
  return { spec: httpSpec(method, url, headers, body, expect), probe: { method, url, headers, ...(body !== undefined ? { body } : {}), expect, ...(check ? { check } : {}) } satisfies Probe };
}

const jwtAlg = (token: string) => {
  try {
    return decodeProtectedHeader(token).alg;
  } catch {
    return undefined;
  }
};

/** The bare library twice: in memory (what the targets compare with) and, when started, on SQLite. */
interface Baselines {
  memory: Baseline;
  sqlite?: Baseline;
}

/**
 * Measures the baseline rows of one scenario: `<key>.baseline` on the library in memory,
 * then `<key>.baseline-sqlite` on the library with a SQLite adapter, compared with the
 * first. `load` builds each one's request (seeding it first when it needs tokens).
 */
async function measureBaselines(key: string, row: { scenario: number; name: string }, bases: Baselines, load: (b: Baseline) => Promise<{ spec: LoadSpec; probe?: Probe }>) {
  for (const b of [bases.memory, bases.sqlite]) {
    if (!b) continue;
    const { spec, probe: p } = await load(b);
    const own = b.store === 'memory' ? {} : { baseline: `${key}.baseline` };
    await measure({ key: baselineKey(key, b.store), ...row, system: 'baseline', store: BARE_STORE_NAMES[b.store], ...own }, spec, b.pid, p);
  }
}

const baselineKey = (key: string, store: BareStore) => (store === 'memory' ? `${key}.baseline` : `${key}.baseline-${store}`);

/**
 * The keys a Gatehouse row is compared with: the library in memory (its target) and, for
 * the embedded store, the library on SQLite (a FerretDB row set beside it would compare stores, not layers).
 */
const comparedWith = (key: string, store: StoreKind) => ({ baseline: `${key}.baseline`, ...(store === 'sqlite' ? { storeBaseline: `${key}.baseline-sqlite` } : {}) });

// -----------------------------------------------------------------------------------------
// Scenarios

async function scenario1(targets: Target[], bases: Baselines, bareRs: Baseline | undefined) {
  const base = (b: Baseline) => request('POST', b.disc.token_endpoint, formHeaders(basicAuth(BASELINE_CLIENT.client_id, BASELINE_CLIENT.client_secret)), form({ grant_type: 'client_credentials' }), [200]);
  const ours = (t: Target, url = t.disc.token_endpoint) =>
    request('POST', url, formHeaders(basicAuth(t.seed.machine.clientId, t.seed.machine.clientSecret)), form({ grant_type: 'client_credentials' }), [200]);

  await measureBaselines('1.es256', { scenario: 1, name: 'client_credentials → JWT, ES256' }, bases, async (b) => base(b));
  for (const t of targets) {
    const r = ours(t);
    await measure(
      { key: `1.es256.${t.store}`, scenario: 1, name: 'client_credentials → JWT, ES256 (default)', system: 'gatehouse', store: t.store, ...comparedWith('1.es256', t.store), target: '≥ 1.0× baseline' },
      r.spec,
      t.server.pid,
      { ...r.probe, check: (_s, body) => (jwtAlg(JSON.parse(body).access_token) === 'ES256' ? undefined : 'token is not ES256') },
      { kind: 'ratio', min: 1 },
    );
  }
  if (bareRs) {
    const b = base(bareRs);
    await measure({ key: '1.rs256.baseline', scenario: 1, name: 'client_credentials → JWT, RS256', system: 'baseline', store: BARE_STORE_NAMES.memory }, b.spec, bareRs.pid, b.probe);
  }
  for (const t of targets) {
    // A second server on the same database, asked for RS256 access tokens.
    const row = { key: `1.rs256.${t.store}`, scenario: 1, name: 'client_credentials → JWT, RS256', system: 'gatehouse' as const, store: t.store, baseline: '1.rs256.baseline', target: '≥ 1.0× baseline' };
    const rs = await startGatehouse(t.deployment, { cpus: pinning.server, env: RS256_SERVER_ENV });
    try {
      const alg = jwtAlg(await ccToken(`${rs.url}/token`, t.seed.machine.clientId, t.seed.machine.clientSecret));
      if (alg !== 'RS256') {
        unavailable(row, `the server signs client_credentials JWTs with ${alg} even with ${envLabel(RS256_SERVER_ENV)}: no setting selects RS256 for access tokens`);
      } else {
        const r = ours(t, `${rs.url}/token`);
        await measure(row, r.spec, rs.pid, r.probe, { kind: 'ratio', min: 1 });
      }
    } finally {
      await rs.stop();
    }
  }
  if (!flags['no-cluster']) await clusterRows(targets[0]!);
}

/**
 * A server with WORKERS=`workers` on every core (the load generator shares one), and how
 * many node:cluster worker processes it started: node children of the server once it is
 * ready, so 0 when it ignores WORKERS.
 */
async function startWithWorkers(t: Target, workers: number): Promise<{ server: GatehouseProcess; running: number }> {
  const server = await startGatehouse(t.deployment, { cpus: pinning.server ? allCores : null, env: { WORKERS: String(workers) } });
  // Workers may come up just after the first one answers /readyz.
  let running = nodeChildren(server.pid).length;
  for (let i = 0; i < 30 && running < workers; i++) {
    await sleep(100);
    running = nodeChildren(server.pid).length;
  }
  return { server, running };
}

const NO_WORKERS = 'not available: the server ignores WORKERS (no node:cluster workers appeared; cluster mode is not implemented yet)';
const workersNote = (running: number) =>
  `${running || 'no'} worker process(es) on cores ${pinning.server ? allCores : 'any'}; the load generator shares core ${pinning.load ?? '?'}; peak RSS sums primary and workers`;

/** Scenario 1 with WORKERS=1 and WORKERS=2, when the server runs node:cluster workers. */
async function clusterRows(t: Target) {
  const rowFor = (workers: number) => ({
    key: `1.workers${workers}.${t.store}`,
    scenario: 1,
    name: `client_credentials → JWT, ES256, WORKERS=${workers}`,
    system: 'gatehouse' as const,
    store: t.store,
    baseline: '1.es256.baseline',
  });
  for (const workers of [2, 1]) {
    const { server, running } = await startWithWorkers(t, workers);
    try {
      // WORKERS=1 may mean one worker or no cluster at all; only WORKERS=2 decides.
      if (workers > 1 && running < workers) {
        unavailable(rowFor(2), NO_WORKERS);
        unavailable(rowFor(1), NO_WORKERS);
        return;
      }
      const r = request('POST', `${server.url}/token`, formHeaders(basicAuth(t.seed.machine.clientId, t.seed.machine.clientSecret)), form({ grant_type: 'client_credentials' }), [200]);
      await measure({ ...rowFor(workers), note: workersNote(running) }, r.spec, server.pid, r.probe);
    } finally {
      await server.stop();
    }
  }
}

async function scenario2(targets: Target[], bases: Baselines) {
  const bare = bases.memory;
  const bareAuth = basicAuth(BASELINE_CLIENT.client_id, BASELINE_CLIENT.client_secret);
  const bareJwt = await ccToken(bare.disc.token_endpoint, BASELINE_CLIENT.client_id, BASELINE_CLIENT.client_secret);
  const active = (_s: number, body: string) => (JSON.parse(body).active === true ? undefined : `token not active: ${body.slice(0, 200)}`);

  await measureBaselines('2.opaque', { scenario: 2, name: 'introspection, opaque access token' }, bases, async (b) => {
    const seeded = await jsonRequest<{ access_token: string }>('GET', `${b.url}/__seed?n=0`);
    return request('POST', b.disc.introspection_endpoint, formHeaders(bareAuth), form({ token: seeded.access_token, token_type_hint: 'access_token' }), [200], active);
  });
  for (const t of targets) {
    const r = request('POST', t.disc.introspection_endpoint, formHeaders(basicAuth(t.seed.web.clientId, t.seed.web.clientSecret)), form({ token: t.opaqueToken, token_type_hint: 'access_token' }), [200], active);
    await measure(
      { key: `2.opaque.${t.store}`, scenario: 2, name: 'introspection, opaque access token', system: 'gatehouse', store: t.store, ...comparedWith('2.opaque', t.store), target: '≥ 1.0× baseline' },
      r.spec,
      t.server.pid,
      r.probe,
      { kind: 'ratio', min: 1 },
    );
  }
  const jwtNote = 'oidc-provider refuses to introspect structured (JWT) tokens: 400 unsupported_token_type, by design (rejectStructuredTokens); measured as that answer. Resource servers verify JWTs locally or call /api/validate (scenario 3).';
  const b = request('POST', bare.disc.introspection_endpoint, formHeaders(bareAuth), form({ token: bareJwt }), [400]);
  await measure({ key: '2.jwt.baseline', scenario: 2, name: 'introspection, JWT access token (400)', system: 'baseline', store: BARE_STORE_NAMES.memory }, b.spec, bare.pid, b.probe);
  for (const t of targets) {
    const r = request('POST', t.disc.introspection_endpoint, formHeaders(basicAuth(t.seed.machine.clientId, t.seed.machine.clientSecret)), form({ token: t.machineJwt }), [400]);
    await measure(
      { key: `2.jwt.${t.store}`, scenario: 2, name: 'introspection, JWT access token (400)', system: 'gatehouse', store: t.store, baseline: '2.jwt.baseline', target: '≥ 1.0× baseline', note: jwtNote },
      r.spec,
      t.server.pid,
      r.probe,
      { kind: 'ratio', min: 1 },
    );
  }
}


async function scenario3(targets: Target[]) {
  const t0 = targets[0]!;
  const jose = await startJoseVerify([{ issuer: t0.disc.issuer, jwksUri: t0.disc.jwks_uri, audiences: [`${t0.disc.issuer}/api`, API_RESOURCE] }]);
  const body = JSON.stringify({ tool: t0.seed.web.clientId });
  const json = (token: string) => ({ 'content-type': 'application/json', authorization: `Bearer ${token}`, accept: 'application/json' });
  const permitted = (_s: number, text: string) => {
    const answer = JSON.parse(text) as { valid?: boolean; permission?: string };
    return answer.valid === true && answer.permission === 'write' ? undefined : `unexpected answer: ${text.slice(0, 200)}`;
  };
  const apiKeyRow = { scenario: 3, name: 'POST /api/validate, API key + tool check', system: 'gatehouse' as const };
  for (const t of targets) {
    const r = request('POST', `${t.server.url}/api/validate`, json(t.seed.userKey), body, [200], permitted);
    await measure(
      // The 8,000 req/s target is a rate for the two-core machine: judged on the WORKERS=2 row.
      { ...apiKeyRow, key: `3.apikey.${t.store}`, store: t.store, target: 'one core, for reference (8,000 req/s: WORKERS=2 row)' },
      r.spec,
      t.server.pid,
      r.probe,
    );
  }
  if (!flags['no-cluster']) {
    const row = { ...apiKeyRow, key: `3.apikey.workers2.${t0.store}`, name: `${apiKeyRow.name}, WORKERS=2`, store: t0.store, target: '≥ 8,000 req/s, p99 < 10 ms' };
    const { server, running } = await startWithWorkers(t0, 2);
    try {
      if (running < 2) unavailable(row, NO_WORKERS);
      else {
        // The workers serve the provider first, as every real instance does: once they
        // have, each call costs ~50 µs more (oidc-provider's AsyncLocalStorage hooks every
        // promise in the process). Sixteen requests at once open sixteen connections,
        // which node:cluster deals out to both workers.
        await Promise.all(Array.from({ length: 16 }, () => ccToken(`${server.url}/token`, t0.seed.machine.clientId, t0.seed.machine.clientSecret)));
        const r = request('POST', `${server.url}/api/validate`, json(t0.seed.userKey), body, [200], permitted);
        await measure({ ...row, note: workersNote(running) }, r.spec, server.pid, r.probe, { kind: 'rps', min: 8000, p99MaxMs: 10 });
      }
    } finally {
      await server.stop();
    }
  }
  const b = request('POST', `${jose.url}/verify/0`, json(t0.personJwt), body, [200]);
  await measure({ key: '3.jwt.baseline', scenario: 3, name: 'JWT verify (jose jwtVerify, node:http)', system: 'baseline', store: 'plain jose verify' }, b.spec, jose.pid, b.probe);
  for (const t of targets) {
    const r = request('POST', `${t.server.url}/api/validate`, json(t.personJwt), body, [200], permitted);
    await measure(
      { key: `3.jwt.${t.store}`, scenario: 3, name: 'POST /api/validate, JWT + tool check', system: 'gatehouse', store: t.store, baseline: '3.jwt.baseline', target: '≥ 0.8× jose verify' },
      r.spec,
      t.server.pid,
      r.probe,
      { kind: 'ratio', min: 0.8 },
    );
  }
  // The row above repeats one token, so after its first request Gatehouse answers from the
  // verified-token cache; this one shows what validating a token costs the first time.
  for (const t of targets) {
    // Same issuer as the first server, so the token it issued is valid here too.
    const uncached = await startGatehouse(t.deployment, { cpus: pinning.server, env: { ...UNCACHED_JWT_SERVER_ENV, ISSUER: t.disc.issuer } });
    try {
      const r = request('POST', `${uncached.url}/api/validate`, json(t.personJwt), body, [200], permitted);
      await measure(
        {
          key: `3.jwt-uncached.${t.store}`,
          scenario: 3,
          name: `POST /api/validate, JWT + tool check, ${envLabel(UNCACHED_JWT_SERVER_ENV)}`,
          system: 'gatehouse',
          store: t.store,
          baseline: '3.jwt.baseline',
          target: '≥ 0.8× jose verify',
        },
        r.spec,
        uncached.pid,
        r.probe,
        { kind: 'ratio', min: 0.8 },
      );
    } finally {
      await uncached.stop();
    }
  }
}

async function scenario4(targets: Target[], bases: Baselines) {
  const hasEmail = (_s: number, body: string) => (JSON.parse(body).email ? undefined : `no email claim: ${body.slice(0, 200)}`);
  await measureBaselines('4.userinfo', { scenario: 4, name: 'userinfo' }, bases, async (b) => {
    const seeded = await jsonRequest<{ access_token: string }>('GET', `${b.url}/__seed?n=0`);
    return request('GET', b.disc.userinfo_endpoint, { authorization: `Bearer ${seeded.access_token}`, accept: 'application/json' }, undefined, [200], hasEmail);
  });
  for (const t of targets) {
    const r = request('GET', t.disc.userinfo_endpoint, { authorization: `Bearer ${t.opaqueToken}`, accept: 'application/json' }, undefined, [200], hasEmail);
    await measure(
      { key: `4.userinfo.${t.store}`, scenario: 4, name: 'userinfo', system: 'gatehouse', store: t.store, ...comparedWith('4.userinfo', t.store), target: '≥ 1.0× baseline' },
      r.spec,
      t.server.pid,
      r.probe,
      { kind: 'ratio', min: 1 },
    );
  }
}

async function scenario5(targets: Target[], bare: Baseline) {
  for (const [id, name, path] of [
    ['discovery', 'discovery document', (d: Discovery) => `${d.issuer}/.well-known/openid-configuration`],
    ['jwks', 'JWKS', (d: Discovery) => d.jwks_uri],
  ] as const) {
    const b = request('GET', path(bare.disc), { accept: 'application/json' }, undefined, [200]);
    await measure({ key: `5.${id}.baseline`, scenario: 5, name, system: 'baseline', store: BARE_STORE_NAMES.memory }, b.spec, bare.pid, b.probe);
    for (const t of targets) {
      const url = path(t.disc);
      const head = await httpRequest('GET', url);
      const etag = typeof head.headers.etag === 'string' ? head.headers.etag : undefined;
      const cache = head.headers['cache-control'];
      const r = request('GET', url, { accept: 'application/json' }, undefined, [200]);
      await measure(
        {
          key: `5.${id}.${t.store}`,
          scenario: 5,
          name,
          system: 'gatehouse',
          store: t.store,
          baseline: `5.${id}.baseline`,
          target: '≥ 10,000 req/s',
          note: `${head.body.length} bytes; ETag: ${etag ?? 'none'}; Cache-Control: ${cache ?? 'none'}`,
        },
        r.spec,
        t.server.pid,
        r.probe,
        { kind: 'rps', min: 10_000 },
      );
      if (etag) {
        const c = request('GET', url, { accept: 'application/json', 'if-none-match': etag }, undefined, [304]);
        await measure({ key: `5.${id}-304.${t.store}`, scenario: 5, name: `${name}, If-None-Match → 304`, system: 'gatehouse', store: t.store, target: '≥ 10,000 req/s' }, c.spec, t.server.pid, c.probe, {
          kind: 'rps',
          min: 10_000,
        });
      }
    }
  }
}

async function scenario6(targets: Target[]) {
  const hash = await measure(
    { key: '6.hash.baseline', scenario: 6, name: 'argon2 verify alone (server core)', system: 'baseline', store: 'argon2 verify loop' },
    { kind: 'hash', concurrency: settings.loginVus, ...phases() },
    null,
  );
  const extra = hash.load?.extra as { params?: Record<string, unknown>; singleVerifyMs?: { mean: number } } | undefined;
  if (extra?.params) {
    const p = extra.params;
    hash.note = `${String(p.algorithm)} m=${String(p.memoryCost)} KiB, t=${String(p.timeCost)}, p=${String(p.parallelism)}; one verify alone takes ${extra.singleVerifyMs?.mean.toFixed(1)} ms; ${settings.loginVus} at once on the server's core`;
  }
  for (const t of targets) {
    const users = t.seed.users.slice(1, 1 + settings.loginVus).map((u) => ({ email: u.email, password: u.password }));
    const row = await measure(
      {
        key: `6.login.${t.store}`,
        scenario: 6,
        name: 'full login: code + PKCE, password form, consent remembered, token',
        system: 'gatehouse',
        store: t.store,
        baseline: '6.hash.baseline',
        target: '≥ 0.8× hash-alone rate',
      },
      { kind: 'login', rp: t.rp, users, scope: 'openid email profile', ...phases() },
      t.server.pid,
      undefined,
      { kind: 'hash', min: 0.8 },
    );
    const pages = row.load?.extra?.pagesSeen as { login: number; consent: number } | undefined;
    if (pages) row.note = `req/s = logins/s (each: 5 requests); pages shown while measuring: ${pages.login} password forms, ${pages.consent} consent pages`;
  }
}

async function scenario7(targets: Target[], bases: Baselines) {
  const n = settings.connections + Math.max(2, Math.ceil(settings.connections / 4));
  await measureBaselines('7.refresh', { scenario: 7, name: 'refresh token rotation' }, bases, async (b) => {
    const seeded = await jsonRequest<{ refresh_tokens: string[] }>('GET', `${b.url}/__seed?n=${n}`);
    const spec: LoadSpec = { kind: 'refresh', tokenEndpoint: b.disc.token_endpoint, clientId: BASELINE_CLIENT.client_id, clientSecret: BASELINE_CLIENT.client_secret, tokens: seeded.refresh_tokens, connections: settings.connections, ...phases() };
    return { spec };
  });
  for (const t of targets) {
    log(`${t.store}: ${n} logins for refresh tokens`);
    const tokens = await refreshPool(t, n);
    const row = await measure(
      { key: `7.refresh.${t.store}`, scenario: 7, name: 'refresh token rotation', system: 'gatehouse', store: t.store, ...comparedWith('7.refresh', t.store), target: '≥ 1.0× baseline' },
      { kind: 'refresh', tokenEndpoint: t.disc.token_endpoint, clientId: t.seed.web.clientId, clientSecret: t.seed.web.clientSecret, tokens, connections: settings.connections, ...phases() },
      t.server.pid,
      undefined,
      { kind: 'ratio', min: 1 },
    );
    const restarted = Number(row.load?.extra?.chainsRestarted ?? 0);
    if (restarted) row.note = `${restarted} refresh chains broke and restarted from spare tokens`;
  }
}

// -----------------------------------------------------------------------------------------
// Judging

function judge(): void {
  for (const row of rows) {
    if (row.system !== 'gatehouse') continue;
    const def = targetDefs.get(row.key) ?? { kind: 'none' };
    if (row.status !== 'measured' || !row.load) {
      row.pass = null;
      continue;
    }
    const misses: string[] = [];
    if (def.kind === 'ratio' || def.kind === 'hash') {
      if (row.ratio === undefined) misses.push('no baseline');
      else if (row.ratio < def.min) misses.push(`${row.ratio.toFixed(2)}× < ${def.min}×`);
    } else if (def.kind === 'rps') {
      if (row.load.rps < def.min) misses.push(`< ${def.min.toLocaleString('en-US')} req/s`);
      if (def.p99MaxMs !== undefined && row.load.latency.p99 >= def.p99MaxMs) misses.push(`p99 ≥ ${def.p99MaxMs} ms`);
    }
    if (row.load.errors > 0) misses.push(`${row.load.errors} errors`);
    // A WORKERS row's peak sums the supervisor and its workers (shown as is); the limit, as
    // for any server, is each process's.
    const perProcess = row.memory?.largestProcessMB != null;
    const judgedMB = perProcess ? row.memory!.largestProcessMB : row.memory?.peakMB;
    if (judgedMB != null && judgedMB >= RSS_LIMIT_MB) misses.push(`RSS ≥ ${RSS_LIMIT_MB} MB${perProcess ? ' in one process' : ''}`);
    row.target = [row.target, `RSS < ${RSS_LIMIT_MB} MB${perProcess ? ' per process' : ''}`].filter(Boolean).join(', ');
    row.misses = misses;
    row.pass = misses.length === 0;
  }
}

// -----------------------------------------------------------------------------------------
// Main

async function resolveStores(): Promise<{ stores: { kind: StoreKind; deployment: () => Deployment }[]; unavailable: Record<string, string>; stopMongo?: () => Promise<void> }> {
  const asked = (flags.store ?? process.env.BENCH_STORE ?? 'auto').toLowerCase();
  if (!['auto', 'all', 'sqlite', 'mongodb'].includes(asked)) {
    console.error(`--store takes sqlite, mongodb or all\n${USAGE}`);
    process.exit(2);
  }
  const stores: { kind: StoreKind; deployment: () => Deployment }[] = [];
  const unavailableStores: Record<string, string> = {};
  if (asked !== 'mongodb') stores.push({ kind: 'sqlite', deployment: sqliteDeployment });
  if (asked === 'sqlite') return { stores, unavailable: unavailableStores };
  try {
    // The tests' helper: MONGODB_URI when set, else a throw-away FerretDB.
    const { startMongoServer } = await import('../test/helpers/mongo-server.js');
    const mongo = await startMongoServer();
    stores.push({ kind: 'mongodb', deployment: () => mongoDeployment(mongo.uri) });
    return { stores, unavailable: unavailableStores, stopMongo: () => mongo.stop() };
  } catch (err) {
    const why = (err as Error).message.split('\n')[0]!;
    if (asked === 'mongodb' || asked === 'all') {
      console.error(`MongoDB-wire store not available: ${why}`);
      process.exit(1);
    }
    unavailableStores.mongodb = why;
    return { stores, unavailable: unavailableStores };
  }
}

async function main(): Promise<number> {
  const startedAt = new Date();
  if (flags.build) {
    log('building dist/');
    await buildServer();
  }
  const code = serverCode();
  log(`server code: ${code.describe}`);
  if (code.stale) log('WARNING: dist/ is older than the sources, so this run measures old code; pass --build');
  const facts = machineFacts();
  log(`${facts.cpuModel}, ${facts.cores} cores, load ${facts.loadAvgAtStart.join(' ')}; pinning ${pinning.server ? `server ${pinning.server}, load ${pinning.load}` : `off (${pinning.reason})`}`);
  log(`scenarios ${scenarios.join(',')}; ${settings.durationS} s after ${settings.warmupS} s warm-up, ${settings.connections} connections`);
  const { stores, unavailable: unavailableStores, stopMongo } = await resolveStores();
  if (stopMongo) cleanups.push(stopMongo);
  const startup: StartupFigure[] = [];
  const targets: Target[] = [];
  for (const s of stores) targets.push(await setUpTarget(s.kind, s.deployment(), startup));

  const needsBare = scenarios.some((n) => [1, 2, 4, 5, 7].includes(n));
  const bare = needsBare ? await startBareProvider('ES256') : undefined;
  const bareRs = wants(1) ? await startBareProvider('RS256') : undefined;
  // The library on SQLite, for the rows where the store is on the path.
  const bareSqlite = scenarios.some((n) => [1, 2, 4, 7].includes(n)) ? await startBareProvider('ES256', 'sqlite') : undefined;
  const bases = { memory: bare!, ...(bareSqlite ? { sqlite: bareSqlite } : {}) };

  // Rounds take every scenario in turn: a slow minute on the machine then spoils one round
  // of the rows running at that time, not every round of one row.
  for (let round = 1; round <= settings.rounds; round++) {
    if (settings.rounds > 1) log(`round ${round} of ${settings.rounds}`);
    currentRound = round;
    if (wants(1)) await scenario1(targets, bases, bareRs);
    if (wants(2)) await scenario2(targets, bases);
    if (wants(3)) await scenario3(targets);
    if (wants(4)) await scenario4(targets, bases);
    if (wants(5)) await scenario5(targets, bare!);
    if (wants(6)) await scenario6(targets);
    if (wants(7)) await scenario7(targets, bases);
  }
  compareWithinRounds(rows);
  rows.splice(0, rows.length, ...medianRounds(rows));

  judge();
  const results: RunResults = {
    version: 1,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: { ...facts, loadAvgAtEnd: loadavg().map((l) => Math.round(l * 100) / 100) },
    settings: { ...settings, smoke, stores: stores.map((s) => s.kind), scenarios, pinning, serverCode: code.describe, runtimeTuning: runtimeTuning() },
    unavailable: unavailableStores,
    startup,
    rows,
    anchors: ANCHORS,
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${startedAt.toISOString().replace(/[:.]/g, '-')}${smoke ? '-smoke' : ''}.json`);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(RESULTS_DIR, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);

  console.log('');
  console.log(textTable(results));
  console.log('');
  for (const f of startup) console.log(`start-up to ready, ${f.store}, ${f.database} database: ${f.ms} ms${f.pass === null ? '' : f.pass ? ' (pass, < 1,500 ms)' : ' (MISS, ≥ 1,500 ms)'}`);
  for (const [store, why] of Object.entries(unavailableStores)) console.log(`${store}: not run — ${why}`);
  console.log('');
  console.log(`server code: ${code.describe}`);
  console.log(`results: ${file}`);
  const failed = rows.filter((r) => r.status === 'failed');
  // Smoke runs (CI) fail only on rows that could not run at all; full runs report misses without failing.
  return failed.length ? 1 : 0;
}

main()
  .then(async (code) => {
    await cleanup();
    process.exit(code);
  })
  .catch(async (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    await cleanup();
    process.exit(1);
  });
