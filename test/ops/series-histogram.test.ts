import assert from 'node:assert/strict';
import { AggregatorRegistry, Histogram, Registry } from 'prom-client';
import { SeriesHistogram } from '../../src/ops/series-histogram.js';

const NAME = 'op_duration_seconds';
const HELP = 'Operation latency';
const LABELS = ['repository', 'operation'] as const;
const BUCKETS = [0.001, 0.01, 0.1];

/** Observations as [repository, operation, seconds], including values on, between and beyond the bounds. */
const OBSERVATIONS: [string, string, number][] = [
  ['users', 'find', 0.0004],
  ['users', 'find', 0.001],
  ['users', 'find', 0.05],
  ['clients', 'find', 0.1],
  ['clients', 'find', 7],
  ['users', 'find', 0.0101],
  ['keys', 'list', 0],
];

/** prom-client's own Histogram and ours, fed the same observations, each in its registry. */
function both(observations = OBSERVATIONS) {
  const reference = new Registry();
  const theirs = new Histogram({ name: NAME, help: HELP, labelNames: LABELS, buckets: BUCKETS, registers: [reference] });
  const registry = new Registry();
  const ours = new SeriesHistogram(NAME, HELP, LABELS, BUCKETS, registry);
  for (const [repository, operation, seconds] of observations) {
    theirs.observe({ repository, operation }, seconds);
    ours.series(repository, operation).observe(seconds);
  }
  return { reference, registry, ours };
}

describe('SeriesHistogram', () => {
  it('exposes exactly what prom-client’s Histogram exposes for the same observations', async () => {
    const { reference, registry } = both();
    const expected = await reference.metrics();
    assert.match(expected, /op_duration_seconds_bucket\{le="0.001",repository="users",operation="find"\} 2\n/);
    assert.equal(await registry.metrics(), expected);
  });

  it('lists nothing but its help and type before the first observation, like prom-client', async () => {
    const { reference, registry } = both([]);
    assert.equal(await registry.metrics(), await reference.metrics());
  });

  it('sums across cluster workers the way prom-client sums its histograms', async () => {
    const workers = [both(OBSERVATIONS.slice(0, 3)), both(OBSERVATIONS.slice(3))];
    const summed = async (registries: Registry[]) => AggregatorRegistry.aggregate(await Promise.all(registries.map((r) => r.getMetricsAsJSON()))).metrics();
    assert.equal(await summed(workers.map((w) => w.registry)), await summed(workers.map((w) => w.reference)));
  });

  it('hands out one series per label set, and a reset zeroes the series callers hold', async () => {
    const { registry, ours } = both();
    const held = ours.series('users', 'find');
    assert.equal(ours.series('users', 'find'), held);
    assert.equal(held.count, 4);
    registry.resetMetrics();
    assert.equal(held.count, 0);
    held.observe(0.002);
    assert.match(await registry.metrics(), /op_duration_seconds_count\{repository="users",operation="find"\} 1/);
  });

  it('times from a hrtime reading', () => {
    const { ours } = both([]);
    const series = ours.series('users', 'find');
    series.observeSince(process.hrtime.bigint() - 3_000_000n);
    assert.ok(series.sum >= 0.003 && series.sum < 1, String(series.sum));
    assert.equal(series.counts[1], 1, 'in the 1–10 ms bucket');
  });
});
