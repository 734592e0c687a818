import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePort } from './free-port.js';

/** A MongoDB-wire server for tests; `stop()` shuts it down (a no-op for `MONGODB_URI`). */
export interface MongoServer {
  uri: string;
  stop(): Promise<void>;
}

/** `uri` pointed at database `name`, keeping hosts and query options. */
export function withDatabase(uri: string, name: string): string {
  const q = uri.indexOf('?');
  const [base, query] = q === -1 ? [uri, ''] : [uri.slice(0, q), uri.slice(q)];
  const hosts = base.replace(/^([a-z+]+:\/\/[^/]*).*$/, '$1');
  return `${hosts}/${name}${query}`;
}

const START_TIMEOUT_MS = 20_000;

/**
 * Uses `MONGODB_URI` when set; otherwise starts a throw-away FerretDB (SQLite backend)
 * on a free loopback port with its data in a temp dir. Throws, rather than letting
 * tests skip, when neither is available.
 */
export async function startMongoServer(): Promise<MongoServer> {
  const external = process.env.MONGODB_URI;
  if (external) return { uri: external, stop: async () => {} };
  return startFerretdb();
}

/** A FerretDB of the test's own that can be taken down and brought back on the same port and data. */
export interface RestartableMongoServer extends MongoServer {
  down(): Promise<void>;
  up(): Promise<void>;
}

/**
 * Starts a throw-away FerretDB (SQLite backend) on a free loopback port with its data in
 * a temp dir. Always FerretDB, never `MONGODB_URI`: outage tests must control the server.
 */
export async function startFerretdb(): Promise<RestartableMongoServer> {
  const bin = findFerretdb();
  if (!bin) {
    throw new Error('No MongoDB-wire server: set MONGODB_URI, or install FerretDB with `bash .ci/install-ferretdb.sh`');
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-ferretdb-'));
  let running: FerretdbProcess | undefined = await launchFerretdb(bin, port, dir);
  // Safety net for a run that ends without calling stop(): never leave a server behind.
  const killOnExit = () => {
    running?.kill();
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', killOnExit);
  return {
    uri: `mongodb://127.0.0.1:${port}`,
    async down() {
      await running?.stop();
      running = undefined;
    },
    async up() {
      running ??= await launchFerretdb(bin, port, dir);
    },
    async stop() {
      process.off('exit', killOnExit);
      await running?.stop();
      running = undefined;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface FerretdbProcess {
  stop(): Promise<void>;
  kill(): void;
}

async function launchFerretdb(bin: string, port: number, dir: string): Promise<FerretdbProcess> {
  const child = spawn(
    bin,
    [
      '--handler=sqlite',
      `--sqlite-url=file:${dir}/`,
      `--state-dir=${dir}`,
      `--listen-addr=127.0.0.1:${port}`,
      '--debug-addr=-',
      '--telemetry=disable',
      '--log-level=ERROR',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  // Kept only to explain a failed start.
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const stuck = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(stuck);
    }
  };
  try {
    await waitForPort(port, () => child.exitCode !== null || child.signalCode !== null);
  } catch (err) {
    await stop();
    const tail = stderr.trim().split('\n').slice(-10).join('\n');
    throw new Error(`FerretDB (${bin}) did not start: ${(err as Error).message}\n${tail}`);
  }
  return { stop, kill: () => child.kill('SIGKILL') };
}

function findFerretdb(): string | undefined {
  const onPath = (process.env.PATH ?? '').split(delimiter).map((d) => join(d, 'ferretdb'));
  return [...onPath, join(goPath(), 'bin', 'ferretdb')].find((p) => existsSync(p));
}

function goPath(): string {
  try {
    return execFileSync('go', ['env', 'GOPATH'], { encoding: 'utf8' }).trim() || join(homedir(), 'go');
  } catch {
    return join(homedir(), 'go'); // no Go toolchain: the binary may still be in the default place
  }
}

async function waitForPort(port: number, hasExited: () => boolean): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (hasExited()) throw new Error('process exited');
    if (await canConnect(port)) return;
    if (Date.now() > deadline) throw new Error(`port ${port} not open after ${START_TIMEOUT_MS} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
