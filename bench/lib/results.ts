/** The shape of bench/results/*.json, and the text renderings of it. */
import type { LoadResult } from './load.js';
import type { MachineFacts } from './machine.js';
import type { MemoryReport, Pinning } from './proc.js';

export interface Row {
  /** Stable key, e.g. "1.es256.sqlite" or "1.es256.baseline". */
  key: string;
  scenario: number;
  name: string;
  system: 'gatehouse' | 'baseline';
  /** sqlite | mongodb for Gatehouse rows; what the baseline is, for baseline rows. */
  store: string;
  status: 'measured' | 'not available' | 'failed';
  note?: string;
  settings?: { connections?: number; vus?: number; pipelining?: number; durationS: number; warmupS: number };
  load?: LoadResult;
  memory?: MemoryReport;
  /** Which run of the scenarios (--rounds) measured it; ratios only ever compare rows of one round. */
  round?: number;
  /** Key of the baseline row this one is compared with (the target's reference). */
  baseline?: string;
  /** The baseline's req/s in the same round, which `ratio` divides by. */
  baselineRps?: number;
  ratio?: number;
  /** Key of the bare library on a SQLite adapter, where the store is on the path; its ratio says what our layers cost over durable state alone. */
  storeBaseline?: string;
  storeRatio?: number;
  /** Server CPU time (user + system, every thread) per request in the measured phase, µs. */
  cpuUsPerRequest?: number;
  /** The baseline's CPU per request over ours: like `ratio`, above 1 is better, but steadier on a noisy machine. */
  cpuRatio?: number;
  target?: string;
  /** null: no target applies (or not measured). */
  pass?: boolean | null;
  misses?: string[];
}

/**
 * Sets each row's ratios against its baselines measured in the same round. Rows of one
 * round ran minutes apart at most, so a slow spell on the machine weighs on both sides of a
 * ratio; pairing one round's row with another round's baseline would not cancel it.
 */
export function compareWithinRounds(rows: Row[]): void {
  const byRoundAndKey = new Map(rows.map((r) => [`${r.round ?? 1} ${r.key}`, r]));
  const inRound = (row: Row, key: string | undefined) => (key ? byRoundAndKey.get(`${row.round ?? 1} ${key}`) : undefined);
  for (const row of rows) {
    const base = inRound(row, row.baseline);
    const storeBase = inRound(row, row.storeBaseline);
    if (base?.load) row.baselineRps = base.load.rps;
    if (row.load && base?.load) row.ratio = row.load.rps / base.load.rps;
    if (row.load && storeBase?.load) row.storeRatio = row.load.rps / storeBase.load.rps;
    // Inverted, so that like the req/s ratio, above 1 means we do better than the baseline.
    if (row.cpuUsPerRequest && base?.cpuUsPerRequest) row.cpuRatio = base.cpuUsPerRequest / row.cpuUsPerRequest;
  }
}

/**
 * One row per key from several rounds of the same rows: a failed round if any (failures
 * must show), else the median round (the lower one of an even count) — by ratio for rows
 * compared with a baseline, by req/s for the rest. Its note lists every round's figures,
 * so the spread is visible beside the median.
 */
export function medianRounds(rows: Row[]): Row[] {
  const byKey = new Map<string, Row[]>();
  for (const row of rows) byKey.set(row.key, [...(byKey.get(row.key) ?? []), row]);
  return [...byKey.values()].map((rounds) => {
    if (rounds.length === 1) return rounds[0]!;
    const failed = rounds.find((r) => r.status !== 'measured' || !r.load);
    if (failed) return failed;
    const byRatio = rounds.every((r) => r.ratio !== undefined);
    const score = (r: Row) => (byRatio ? r.ratio! : r.load!.rps);
    const sorted = [...rounds].sort((a, b) => score(a) - score(b));
    const median = sorted[Math.floor((sorted.length - 1) / 2)]!;
    const figure = (r: Row) => `${Math.round(r.load!.rps).toLocaleString('en-US')}${byRatio ? ` (${r.ratio!.toFixed(2)}×)` : ''}`;
    const figures = rounds.map(figure).join(' / ');
    return { ...median, note: [median.note, `${rounds.length} rounds: ${figures} req/s; the median round${byRatio ? ' by ratio' : ''} shown`].filter(Boolean).join('; ') };
  });
}

export interface StartupFigure {
  store: string;
  database: 'fresh' | 'existing';
  ms: number;
  rssMB: number | null;
  pass: boolean | null;
}

export interface RunResults {
  version: 1;
  startedAt: string;
  finishedAt: string;
  machine: MachineFacts & { loadAvgAtEnd: number[] };
  settings: {
    durationS: number;
    warmupS: number;
    connections: number;
    pipelining: number;
    loginVus: number;
    smoke: boolean;
    stores: string[];
    scenarios: number[];
    pinning: Pinning;
    /** Times every scenario ran; each row is the median round (absent in older results: 1). */
    rounds?: number;
    /** What `gatehouse serve` ran: the compiled dist/ or src/ through tsx (absent in older results). */
    serverCode?: string;
    /** Environment tuning every server ran with (GLIBC_TUNABLES, MALLOC_ARENA_MAX, NODE_OPTIONS; absent in older results). */
    runtimeTuning?: Record<string, string>;
  };
  /** Stores that were asked for but could not run, and why. */
  unavailable: Record<string, string>;
  startup: StartupFigure[];
  rows: Row[];
  anchors: Anchor[];
}

export interface Anchor {
  source: string;
  url?: string;
  figure: string;
  /** Row keys whose figures sit beside this anchor. */
  compareWith: string[];
}

/** Published figures to read ours against (see docs/benchmarks.md for the caveats). */
export const ANCHORS: Anchor[] = [
  {
    source: 'Keycloak 26 sizing guide',
    url: 'https://www.keycloak.org/high-availability/concepts-memory-and-cpu-sizing',
    figure: '15 password logins/s per vCPU',
    compareWith: ['6.login.sqlite', '6.login.mongodb'],
  },
  {
    source: 'Keycloak 26 sizing guide',
    url: 'https://www.keycloak.org/high-availability/concepts-memory-and-cpu-sizing',
    figure: '120 client_credentials or refresh grants/s per vCPU',
    compareWith: ['1.es256.sqlite', '1.es256.mongodb', '7.refresh.sqlite', '7.refresh.mongodb'],
  },
  {
    source: 'Ory Hydra benchmark (2 CPUs, in-memory)',
    url: 'https://www.ory.sh/docs/hydra/benchmark',
    figure: '541 client_credentials/s; 22,000 introspections/s',
    compareWith: ['1.es256.sqlite', '1.es256.mongodb', '2.opaque.sqlite', '2.opaque.mongodb'],
  },
  {
    source: 'Zitadel v4 benchmarks',
    url: 'https://zitadel.com/docs/apis/benchmarks',
    figure: '424 client_credentials iterations/s (2–7 containers of 6 vCPU)',
    compareWith: ['1.es256.sqlite', '1.es256.mongodb'],
  },
  {
    source: 'bare oidc-provider on a 2-core machine, 1 server core (issue #7)',
    figure: '~3,500 client_credentials/s ES256, ~1,900 RS256 — measured in this run as the baseline rows',
    compareWith: ['1.es256.baseline', '1.rs256.baseline'],
  },
];

const fmt = (n: number | undefined, digits = 0) =>
  n === undefined || Number.isNaN(n) ? '–' : n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
/** Latencies: autocannon's are whole milliseconds, the custom loops' are not. */
const ms = (n: number | undefined) => (n === undefined ? '–' : Number.isInteger(n) || n >= 100 ? fmt(n, 0) : n < 10 ? fmt(n, 2) : fmt(n, 1));

function cells(row: Row, byKey: Map<string, Row>): string[] {
  const base = row.baseline ? byKey.get(row.baseline) : undefined;
  const result = row.status !== 'measured' ? row.status : row.pass === null || row.pass === undefined ? '' : row.pass ? 'pass' : `MISS${row.misses?.length ? ` (${row.misses.join('; ')})` : ''}`;
  return [
    String(row.scenario),
    row.name,
    row.system === 'baseline' ? `baseline: ${row.store}` : row.store,
    fmt(row.load?.rps),
    ms(row.load?.latency.p50),
    ms(row.load?.latency.p99),
    row.load ? fmt(row.load.errors) : '–',
    row.memory?.peakMB != null ? fmt(row.memory.peakMB, 0) : '–',
    row.baselineRps !== undefined ? fmt(row.baselineRps) : base?.load ? fmt(base.load.rps) : '–',
    row.ratio !== undefined ? `${fmt(row.ratio, 2)}×` : '–',
    row.storeRatio !== undefined ? `${fmt(row.storeRatio, 2)}×` : '–',
    row.cpuUsPerRequest !== undefined ? `${fmt(row.cpuUsPerRequest)}${row.cpuRatio !== undefined ? ` (${fmt(row.cpuRatio, 2)}×)` : ''}` : '–',
    row.target ?? '',
    result,
  ];
}

const HEADERS = ['#', 'scenario', 'store', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'peak RSS MB', 'baseline req/s', 'ratio', 'vs library on SQLite', 'CPU µs/req', 'target', 'result'];

/** A fixed-width table for the terminal. */
export function textTable(results: RunResults): string {
  const byKey = new Map(results.rows.map((r) => [r.key, r]));
  const rows = [HEADERS, ...results.rows.map((r) => cells(r, byKey))];
  const widths = HEADERS.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i >= 3 && i <= 11 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
  const out = [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)];
  const notes = results.rows.filter((r) => r.note).map((r) => `  [${r.key}] ${r.note}`);
  return [...out, ...(notes.length ? ['', 'Notes:', ...notes] : [])].join('\n');
}

/** The same results as a markdown section for docs/benchmarks.md. */
export function markdownReport(results: RunResults): string {
  const byKey = new Map(results.rows.map((r) => [r.key, r]));
  const m = results.machine;
  const s = results.settings;
  const pin = s.pinning.server ? `server on core ${s.pinning.server}, load generator on core ${s.pinning.load} (taskset)` : `not pinned (${s.pinning.reason ?? 'unknown'})`;
  const lines: string[] = [];
  lines.push(`Run of ${results.startedAt}${s.smoke ? ' (smoke: too short to mean much)' : ''}.`);
  lines.push('');
  lines.push(`- Machine: ${m.cpuModel}, ${m.cores} cores${m.virtualised ? ' (virtual machine)' : ''}, ${m.ramGB} GB RAM, ${m.os}, Node ${m.node}`);
  lines.push(`- Load average at start / end: ${m.loadAvgAtStart.join(', ')} / ${m.loadAvgAtEnd.join(', ')}${m.loadAvgAtStart[0]! > 0.7 ? ' — **the machine was busy with other work when the run started; absolute figures are noisy, ratios less so**' : ' (the load at the end is the run itself)'}`);
  lines.push(`- ${s.durationS} s measured after ${s.warmupS} s warm-up per row, ${s.connections} connections, pipelining ${s.pipelining}, ${s.loginVus} people logging in at once (scenario 6)${(s.rounds ?? 1) > 1 ? `; every scenario ran ${s.rounds} times in turn, and each row shows its median round` : ''}`);
  lines.push(`- Pinning: ${pin}`);
  if (s.serverCode) lines.push(`- Server code: ${s.serverCode}, \`NODE_ENV=production\``);
  if (s.runtimeTuning) {
    const tuning = Object.entries(s.runtimeTuning).map(([k, v]) => `\`${k}=${v}\``);
    lines.push(`- Runtime tuning of every server, baselines included: ${tuning.length ? tuning.join(', ') : 'none (bare Node)'}`);
  }
  lines.push(`- Versions: ${Object.entries(m.versions).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  for (const [store, why] of Object.entries(results.unavailable)) lines.push(`- ${store}: not run (${why})`);
  lines.push('');
  lines.push(`| ${HEADERS.join(' | ')} |`);
  lines.push(`| ${HEADERS.map((_, i) => (i >= 3 && i <= 11 ? '---:' : '---')).join(' | ')} |`);
  for (const row of results.rows) lines.push(`| ${cells(row, byKey).map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`);
  lines.push('');
  if (results.startup.length) {
    lines.push('Start-up to ready (spawn → first 200 from `/readyz`), target < 1,500 ms on the embedded store:');
    lines.push('');
    for (const f of results.startup) lines.push(`- ${f.store}, ${f.database} database: ${fmt(f.ms)} ms (RSS at ready ${f.rssMB ?? '–'} MB)${f.pass === null ? '' : f.pass ? ' — pass' : ' — MISS'}`);
    lines.push('');
  }
  const notes = results.rows.filter((r) => r.note);
  if (notes.length) {
    lines.push('Notes:');
    lines.push('');
    for (const r of notes) lines.push(`- \`${r.key}\`: ${r.note}`);
    lines.push('');
  }
  lines.push('Published anchors beside our figures:');
  lines.push('');
  for (const a of results.anchors) {
    const ours = a.compareWith
      .map((k) => byKey.get(k))
      .filter((r): r is Row => !!r?.load)
      .map((r) => `${r.name} (${r.system === 'baseline' ? 'baseline' : r.store}) ${fmt(r.load!.rps)}/s`);
    lines.push(`- ${a.url ? `[${a.source}](${a.url})` : a.source}: ${a.figure}. This run: ${ours.length ? ours.join('; ') : 'not measured'}.`);
  }
  return lines.join('\n');
}
