/**
 * The server under test: `node bin/gatehouse.js serve` in its own (pinned) process, as an
 * operator runs it, with limits that would otherwise throttle a load test lifted. Seeding
 * goes through the public interfaces only: the CLI for API keys, the management API for
 * tools, users and permissions.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RelyingParty } from './browser.js';
import { jsonRequest } from './http.js';
import { captureTail, cpuProfileArgs, freePort, spawnPinned, stopProcess, waitReady } from './proc.js';
import { runtimeTuning } from './runtime-tuning.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin/gatehouse.js');

export const BENCH_SECRET = 'bench-secret-that-is-long-enough-for-gatehouse-0123456789';
export const ADMIN_EMAIL = 'bench-admin@bench.test';
export const PASSWORD = 'quiet harbour lantern 7429';
/** An API the JWT access tokens of people are asked for (RESOURCES). */
export const API_RESOURCE = 'https://api.bench.test';
export const REDIRECT_URI = 'https://rp.bench.test/callback';

export type StoreKind = 'sqlite' | 'mongodb';


/** What code `gatehouse serve` runs under NODE_ENV=production: the compiled dist/ when built, else src/ through tsx. */
export interface ServerCode {
  mode: 'dist' | 'tsx';
  /** dist/ is older than the newest file under src/ or adapters/: the figures would not be the sources'. */
  stale: boolean;
  describe: string;
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

export function serverCode(): ServerCode {
  const built = join(ROOT, 'dist/src/cli.js');
  if (!existsSync(built)) return { mode: 'tsx', stale: false, describe: 'src/ through tsx (no dist/ build)' };
  const sources = Math.max(newestMtime(join(ROOT, 'src')), newestMtime(join(ROOT, 'adapters')));
  const stale = statSync(built).mtimeMs < sources && newestMtime(join(ROOT, 'dist')) < sources;
  return { mode: 'dist', stale, describe: `compiled dist/${stale ? ' (STALE: older than src/; run `npm run build` or pass --build)' : ''}` };
}

/** `npm run build`, when the project has one; resolves when done. */
export function buildServer(): Promise<void> {
  if (!existsSync(join(ROOT, 'bin/build.js'))) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/build.js')], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`build exited with ${code}`))));
  });
}

/** Where one Gatehouse deployment keeps its data; several processes may share it. */
export interface Deployment {
  store: StoreKind;
  databaseUrl: string;
  dataDir: string;
  cleanup(): void;
}

export function sqliteDeployment(): Deployment {
  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-'));
  return { store: 'sqlite', databaseUrl: `sqlite:${join(dataDir, 'gatehouse.db')}`, dataDir, cleanup: () => rmSync(dataDir, { recursive: true, force: true }) };
}

/** `uri` pointed at a fresh database name, keeping hosts and query options. */
export function mongoDeployment(uri: string): Deployment {
  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-'));
  const q = uri.indexOf('?');
  const [base, query] = q === -1 ? [uri, ''] : [uri.slice(0, q), uri.slice(q)];
  const hosts = base.replace(/^([a-z+]+:\/\/[^/]*).*$/, '$1');
  const databaseUrl = `${hosts}/gatehouse_bench_${randomBytes(5).toString('hex')}${query}`;
  return { store: 'mongodb', databaseUrl, dataDir, cleanup: () => rmSync(dataDir, { recursive: true, force: true }) };
}

/**
 * Every rate limit and sign-in lock the server knows, read from src/config.ts so a limit
 * added later is lifted too (a load test from one IP and one client trips them all in
 * seconds). The window itself is left alone.
 */
function limitsOutOfTheWay(): Record<string, string> {
  const names = new Set(['RATE_LIMIT_PER_IP', 'RATE_LIMIT_MAIL_PER_ADDRESS', 'LOGIN_MAX_FAILURES', 'LOGIN_MAX_FAILURES_PER_IP']);
  try {
    const source = readFileSync(join(ROOT, 'src/config.ts'), 'utf8');
    for (const [, name] of source.matchAll(/^\s*((?:RATE_LIMIT|LOGIN_MAX_FAILURES)[A-Z_]*)\s*:/gm)) names.add(name!);
  } catch {
    // keep the known ones
  }
  names.delete('RATE_LIMIT_WINDOW');
  return Object.fromEntries([...names].map((n) => [n, '1000000000']));
}

/** The environment of a server under load: production mode, quiet logs, limits out of the way. */
export function serverEnv(d: Deployment, port: number, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    ...runtimeTuning(),
    NODE_ENV: 'production',
    PORT: String(port),
    HOST: '127.0.0.1',
    ISSUER: `http://127.0.0.1:${port}`,
    DATABASE_URL: d.databaseUrl,
    DATA_DIR: d.dataDir,
    GATEHOUSE_SECRET: BENCH_SECRET,
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
    ADMIN_EMAIL,
    ADMIN_PASSWORD: PASSWORD,
    RESOURCES: API_RESOURCE,
    ...limitsOutOfTheWay(),
    API_KEYS_PER_USER: '100',
    ...extra,
  };
}

export interface GatehouseProcess {
  readonly url: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Milliseconds from spawn to the first 200 from /readyz. */
  readonly readyMs: number;
  readonly env: Record<string, string>;
  output(): string;
  stop(): Promise<void>;
}

/** Starts `gatehouse serve` on `cpus` and waits for /readyz. */
export async function startGatehouse(d: Deployment, options: { cpus: string | null; port?: number; env?: Record<string, string> }): Promise<GatehouseProcess> {
  const port = options.port ?? (await freePort());
  const env = serverEnv(d, port, options.env);
  const started = process.hrtime.bigint();
  const child = spawnPinned(options.cpus, process.execPath, [...cpuProfileArgs('gatehouse'), BIN, 'serve'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = captureTail(child);
  const url = `http://127.0.0.1:${port}`;
  let readyMs: number;
  try {
    readyMs = await waitReady(`${url}/readyz`, child, started, output);
  } catch (err) {
    await stopProcess(child, 2000);
    throw err;
  }
  let stopping = false;
  child.once('exit', (code, signal) => {
    if (!stopping) process.stderr.write(`[bench] gatehouse on ${url} exited unexpectedly (${code ?? signal}):\n${output().slice(-3000)}\n`);
  });
  return {
    url,
    pid: child.pid!,
    child,
    readyMs,
    env,
    output,
    stop: () => {
      stopping = true;
      return stopProcess(child);
    },
  };
}

/** Runs the `gatehouse` CLI with the server's environment; resolves with parsed JSON stdout. */
export function gatehouseCli<T>(args: string[], env: Record<string, string>): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...env, LOG_LEVEL: 'error' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`gatehouse ${args.join(' ')} exited ${code}: ${stderr || stdout}`));
      try {
        resolve(JSON.parse(stdout) as T);
      } catch {
        reject(new Error(`gatehouse ${args.join(' ')} printed no JSON: ${stdout}`));
      }
    });
  });
}

export interface SeededUser {
  id: string;
  email: string;
  password: string;
}

/** What the scenarios need, made once per deployment. */
export interface Seed {
  adminKey: string;
  machine: { clientId: string; clientSecret: string };
  web: { clientId: string; clientSecret: string };
  users: SeededUser[];
  /** An API key of users[0], who has `write` in the web tool. */
  userKey: string;
}

export const MACHINE_TOOL = 'bench-machine';
export const WEB_TOOL = 'bench-web';

/**
 * Seeds a running server: an admin API key (CLI), a machine tool and a web tool, `userCount`
 * viewers with `write` in the web tool (management API), and an API key for the first
 * user (CLI).
 */
export async function seed(server: GatehouseProcess, userCount: number): Promise<Seed> {
  const admin = await gatehouseCli<{ key: string }>(['api-keys', 'create', '--user', ADMIN_EMAIL, '--name', 'bench-admin'], server.env);
  const auth = { authorization: `Bearer ${admin.key}` };
  const api = (method: string, path: string, json?: unknown) => jsonRequest<Record<string, unknown>>(method, `${server.url}${path}`, { headers: auth, json });
  const machine = await api('POST', '/api/tools', { id: MACHINE_TOOL, name: 'Bench machine', type: 'machine' });
  const web = await api('POST', '/api/tools', { id: WEB_TOOL, name: 'Bench web', type: 'web', redirect_uris: [REDIRECT_URI] });
  const users: SeededUser[] = [];
  for (let i = 0; i < userCount; i++) {
    const email = `bench-user-${i}@bench.test`;
    const user = await api('POST', '/api/users', { email, password: PASSWORD, name: `Bench User ${i}` });
    await api('PUT', `/api/users/${String(user.id)}/permissions/${WEB_TOOL}`, { level: 'write' });
    users.push({ id: String(user.id), email, password: PASSWORD });
  }
  const userKey = await gatehouseCli<{ key: string }>(['api-keys', 'create', '--user', users[0]!.email, '--name', 'bench'], server.env);
  return {
    adminKey: admin.key,
    machine: { clientId: MACHINE_TOOL, clientSecret: String(machine.client_secret) },
    web: { clientId: WEB_TOOL, clientSecret: String(web.client_secret) },
    users,
    userKey: userKey.key,
  };
}

/** The endpoints a relying party learns from discovery. */
export interface Discovery {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  introspection_endpoint: string;
  userinfo_endpoint: string;
  jwks_uri: string;
}

export const discover = (url: string) => jsonRequest<Discovery>('GET', `${url}/.well-known/openid-configuration`);

/** The seeded web tool, as a relying party of the deployment `disc` describes. */
export function webRelyingParty(disc: Discovery, seeded: Seed): RelyingParty {
  return {
    issuer: disc.issuer,
    authorizationEndpoint: disc.authorization_endpoint,
    tokenEndpoint: disc.token_endpoint,
    clientId: seeded.web.clientId,
    clientSecret: seeded.web.clientSecret,
    redirectUri: REDIRECT_URI,
  };
}
