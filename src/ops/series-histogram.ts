import type { Metric, Registry } from 'prom-client';

/** One label set's counts. Callers keep it and observe into it directly. */
export class HistogramSeries {
  /** Observations per bucket, not cumulative; the last slot counts those above every bound. */
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Readonly<Record<string, string>>,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }

  observe(value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }

  /** Seconds since `startedAt` (a `process.hrtime.bigint()` reading), observed. */
  observeSince(startedAt: bigint): void {
    this.observe(Number(process.hrtime.bigint() - startedAt) / 1e9);
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}

/**
 * A Prometheus histogram for hot paths: a label set is looked up once, as a
 * `HistogramSeries` the caller keeps, and observing it costs a few comparisons.
 * prom-client's own Histogram validates and hashes the label object and turns the bucket
 * bound into a property name on every observation, about 1.5 µs each; the request timer and
 * the store timer together observed four or five times per API request.
 *
 * It registers in a prom-client Registry and answers `get()` in the same shape as
 * prom-client's histograms, so the text exposition and the cluster aggregation (summed
 * across workers) are prom-client's and look exactly as before.
 */
export class SeriesHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #bounds: readonly number[];
  readonly #series = new Map<string, HistogramSeries>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly string[],
    buckets: readonly number[],
    registry: Registry,
  ) {
    this.#bounds = [...buckets].sort((a, b) => a - b);
    // The Registry only calls name, get() and reset(), which this provides; its type lists prom-client's classes.
    registry.registerMetric(this as unknown as Metric);
  }

  /** The series for these label values, in `labelNames` order. */
  series(...values: string[]): HistogramSeries {
    const key = values.join('\u0000');
    let series = this.#series.get(key);
    if (!series) {
      series = new HistogramSeries(Object.fromEntries(this.labelNames.map((name, i) => [name, values[i] ?? ''])), this.#bounds);
      this.#series.set(key, series);
    }
    return series;
  }

  /** Cumulative buckets, `+Inf`, sum and count per series, as prom-client's Histogram answers. */
  async get() {
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    for (const s of this.#series.values()) {
      let cumulative = 0;
      this.#bounds.forEach((bound, i) => {
        cumulative += s.counts[i]!;
        values.push({ labels: { le: bound, ...s.labels }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { le: '+Inf', ...s.labels }, value: s.count, metricName: `${this.name}_bucket` });
      values.push({ labels: { ...s.labels }, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...s.labels }, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** Zeroes every series in place: callers keep the ones they hold. */
  reset(): void {
    for (const s of this.#series.values()) s.reset();
  }
}
