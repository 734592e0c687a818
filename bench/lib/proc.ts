/**
 * Process plumbing for the benchmarks: CPU pinning with taskset, readiness polling,
 * and memory and CPU-time sampling from /proc (Linux). Everything here degrades to "unknown" on
 * systems without /proc or taskset rather than failing the run.
 */
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { request } from 'node:http';
import { join } from 'node:path';

const TASKSET = ['/usr/bin/taskset', '/bin/taskset'].find((p) => existsSync(p));

/** Which cores the server, the load generator and helpers run on; null: not pinned. */
export interface Pinning {
  server: string | null;
  load: string | null;
  /** Why pinning is off, when it is. */
  reason?: string;
}

export function defaultPinning(serverCpus?: string, loadCpus?: string, disabled = false): Pinning {
  const n = cpus().length;
  if (disabled) return { server: null, load: null, reason: 'disabled with --no-pin' };
  if (!TASKSET) return { server: null, load: null, reason: 'taskset not found' };
  if (n < 2) return { server: null, load: null, reason: 'only one core' };
  return { server: serverCpus ?? '0', load: loadCpus ?? String(n - 1) };
}

/** Spawns `cmd args` on the given cores (taskset execs the command, so the pid is the command's). */
export function spawnPinned(cpuList: string | null, cmd: string, args: string[], options: SpawnOptions): ChildProcess {
  if (cpuList && TASKSET) return spawn(TASKSET, ['-c', cpuList, cmd, ...args], options);
  return spawn(cmd, args, options);
}

export { freePort } from '../../test/helpers/free-port.js';

/**
 * Node flags that write a CPU profile as the process exits, into BENCH_PROFILE_DIR/<label>
 * (`--profile`); none when profiling is off. A folder per label keeps ours and the
 * baselines' profiles apart. --cpu-prof may not go through NODE_OPTIONS, hence flags.
 */
export function cpuProfileArgs(label: string): string[] {
  const dir = process.env.BENCH_PROFILE_DIR;
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${join(dir, label)}`] : [];
}

/** One GET, resolving with the status (0 when the connection fails). No keep-alive: used for polling. */
export function getStatus(url: string, timeoutMs = 2000): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'GET', agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/**
 * Polls `url` until it answers 200; resolves with the milliseconds since `startedAt`.
 * Rejects when `child` exits first or the deadline passes.
 */
export async function waitReady(url: string, child: ChildProcess, startedAt: bigint, describe: () => string, timeoutMs = 60_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`process exited (${child.exitCode ?? child.signalCode}) before ready:\n${describe()}`);
    if ((await getStatus(url, 1000)) === 200) return Number(process.hrtime.bigint() - startedAt) / 1e6;
    if (Date.now() > deadline) throw new Error(`not ready within ${timeoutMs} ms:\n${describe()}`);
    await sleep(20);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
export async function stopProcess(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Keeps the last `max` characters a child wrote, so a failed start can be explained. */
export function captureTail(child: ChildProcess, max = 8000): () => string {
  let tail = '';
  const keep = (d: Buffer) => {
    tail = (tail + d.toString()).slice(-max);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return () => tail;
}

// ---------------------------------------------------------------------------------------
// Memory

const HAS_PROC = existsSync('/proc/self/status');

function statusField(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Resident set size in bytes, or undefined. */
export const rssOf = (pid: number) => statusField(pid, 'VmRSS');
/** Peak resident set size since start (or the last reset) in bytes, or undefined. */
export const hwmOf = (pid: number) => statusField(pid, 'VmHWM');

/** Resets the kernel's peak-RSS mark (VmHWM) to the current RSS; false when not permitted. */
export function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/**
 * Direct children of `pid` running the same executable (cluster workers), excluding
 * helpers like esbuild. Compared by executable, not by command name: from Node 24 on a
 * process's command name is that of its main thread, "MainThread".
 */
export function nodeChildren(pid: number): number[] {
  if (!HAS_PROC) return [];
  const exeOf = (p: number | string) => readlinkSync(`/proc/${p}/exe`);
  const out: number[] = [];
  try {
    const exe = exeOf(pid);
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        // pid (comm) state ppid ...; comm may contain spaces, so read after the last ')'.
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (ppid === pid && exeOf(entry) === exe) out.push(Number(entry));
      } catch {
        // the process went away while we looked
      }
    }
  } catch {
    // `pid` itself has exited
  }
  return out;
}

export interface MemoryReport {
  /** Highest sampled RSS (summed over the process and its node children), MB. */
  peakMB: number | null;
  startMB: number | null;
  endMB: number | null;
  /** How the peak was obtained. */
  method: 'VmHWM' | 'VmRSS sampling' | 'unavailable';
  samples: number;
  /** With node children (cluster mode): the highest sampled RSS of any one process, MB. */
  largestProcessMB?: number | null;
}

/**
 * Watches one server process (plus its node children, for cluster mode) while a load
 * runs: resets the kernel's peak mark at start, samples VmRSS every `intervalMs`, and at
 * stop takes the larger of the sampled peak and VmHWM (exact for a single process).
 */
export class MemoryWatch {
  #timer: NodeJS.Timeout | undefined;
  #peak = 0;
  #largestProcess = 0;
  #processes = 1;
  #start: number | undefined;
  #last: number | undefined;
  #samples = 0;
  #hwmReset = false;
  readonly series: { t: number; rssMB: number }[] = [];

  constructor(
    private readonly pid: number,
    private readonly intervalMs = 250,
    private readonly keepSeries = false,
  ) {}

  #pids(): number[] {
    return [this.pid, ...nodeChildren(this.pid)];
  }

  #sample(): void {
    const pids = this.#pids();
    let sum = 0;
    for (const p of pids) {
      const rss = rssOf(p) ?? 0;
      sum += rss;
      this.#largestProcess = Math.max(this.#largestProcess, rss);
    }
    if (!sum) return;
    this.#processes = Math.max(this.#processes, pids.length);
    this.#start ??= sum;
    this.#last = sum;
    this.#peak = Math.max(this.#peak, sum);
    this.#samples++;
    if (this.keepSeries) this.series.push({ t: Date.now(), rssMB: sum / 2 ** 20 });
  }

  start(): this {
    if (!HAS_PROC) return this;
    this.#hwmReset = this.#pids().every((p) => resetPeak(p));
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), this.intervalMs);
    this.#timer.unref();
    return this;
  }

  stop(): MemoryReport {
    clearInterval(this.#timer);
    if (!HAS_PROC) return { peakMB: null, startMB: null, endMB: null, method: 'unavailable', samples: 0 };
    this.#sample();
    const pids = this.#pids();
    let method: MemoryReport['method'] = 'VmRSS sampling';
    if (this.#hwmReset && pids.length === 1) {
      const hwm = hwmOf(this.pid);
      if (hwm !== undefined) {
        this.#peak = Math.max(this.#peak, hwm);
        method = 'VmHWM';
      }
    }
    const mb = (b: number | undefined) => (b === undefined ? null : Math.round((b / 2 ** 20) * 10) / 10);
    const largest = this.#processes > 1 ? { largestProcessMB: mb(this.#largestProcess || undefined) } : {};
    return { peakMB: mb(this.#peak || undefined), startMB: mb(this.#start), endMB: mb(this.#last), method, samples: this.#samples, ...largest };
  }
}

// ---------------------------------------------------------------------------------------
// CPU time

/** Kernel clock ticks per second, the unit of /proc/<pid>/stat's times (100 on every common Linux). */
const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** User plus system CPU seconds the process has used, all its threads included; undefined once it is gone. */
function cpuSecondsOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command: state ppid … utime (14th field) stime (15th).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds one server (plus its node children, for cluster mode) spends between
 * `start` and `stop`. Unlike req/s, CPU time per request barely moves when a virtual
 * machine's neighbours steal cycles: stolen time is not charged to the process. That
 * makes it the steadier figure for comparing two servers on a noisy machine.
 */
export class CpuMeter {
  #start: Map<number, number> | undefined;

  constructor(private readonly pid: number) {}

  #read(): Map<number, number> {
    const times = new Map<number, number>();
    for (const p of [this.pid, ...nodeChildren(this.pid)]) {
      const s = cpuSecondsOf(p);
      if (s !== undefined) times.set(p, s);
    }
    return times;
  }

  start(): void {
    if (HAS_PROC) this.#start = this.#read();
  }

  /** Seconds used since `start` by the processes alive at both ends; undefined when not started or without /proc. */
  stop(): number | undefined {
    if (!this.#start) return undefined;
    let used = 0;
    for (const [p, s] of this.#read()) used += s - (this.#start.get(p) ?? s);
    return used;
  }
}
