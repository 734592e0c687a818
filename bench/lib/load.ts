/**
 * The orchestrator's side of the load generator: start load-worker.ts in its own process
 * (pinned with taskset when available), hand it a spec, await its result.
 */
import { fileURLToPath } from 'node:url';
import type { RelyingParty } from './browser.js';
import { spawnPinned } from './proc.js';

const WORKER = fileURLToPath(new URL('./load-worker.ts', import.meta.url));

interface Phases {
  warmupS: number;
  durationS: number;
}

export type LoadSpec =
  | (Phases & {
      kind: 'http';
      url: string;
      method: 'GET' | 'POST';
      headers: Record<string, string>;
      body?: string;
      connections: number;
      pipelining: number;
      /** Statuses that count as success (anything else is an error). */
      expectStatus: number[];
    })
  | (Phases & { kind: 'refresh'; tokenEndpoint: string; clientId: string; clientSecret: string; tokens: string[]; connections: number })
  | (Phases & { kind: 'login'; rp: RelyingParty; users: { email: string; password: string }[]; scope: string })
  | (Phases & { kind: 'hash'; concurrency: number })
  | (Phases & { kind: 'mix'; requests: MixRequest[]; connections: number; timeoutMs: number });

/** One request of a round-robin mix (soak test); `label` groups its answers in the timeline. */
export interface MixRequest {
  label: string;
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: string;
}

/** Answers per wall-clock second (epoch seconds), by label and status ('error' for no answer). */
export type Timeline = { t: number; counts: Record<string, Record<string, number>> }[];

export interface Latency {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export interface LoadResult {
  requests: number;
  durationS: number;
  rps: number;
  /** Milliseconds. */
  latency: Latency;
  statusCounts: Record<string, number>;
  socketErrors: number;
  timeouts: number;
  /** Responses with an unexpected status, plus socket errors and timeouts. */
  errors: number;
  /** The first failure without an answer, to explain socket errors. */
  firstError?: string;
  extra?: Record<string, unknown>;
}

/** Runs `spec` in a fresh load-generator process on `cpus`; `onMeasuring` is called when the warm-up ends. */
export function runLoad(spec: LoadSpec, cpus: string | null, onMeasuring: () => void = () => {}): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawnPinned(cpus, process.execPath, ['--import', 'tsx', WORKER], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env },
    });
    let settled = false;
    child.on('message', (msg: { ready: true } | { measuring: true } | { ok: true; result: LoadResult } | { ok: false; error: string }) => {
      if ('ready' in msg) {
        child.send(spec);
        return;
      }
      if ('measuring' in msg) {
        onMeasuring();
        return;
      }
      settled = true;
      if (msg.ok) resolve(msg.result);
      else reject(new Error(`load generator failed: ${msg.error}`));
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (!settled) reject(new Error(`load generator exited with ${code} before reporting`));
    });
  });
}
