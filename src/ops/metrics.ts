import Router from '@koa/router';
import type { Middleware } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { passwordHashing } from '../accounts/passwords.js';
import type { Store } from '../store/port.js';
import { wrapStore } from '../store/wrap-store.js';
import { instanceMetrics, shareWithPrimary } from './cluster-metrics.js';
import { type HistogramSeries, SeriesHistogram } from './series-histogram.js';

/**
 * Prometheus metrics of one instance, in a registry of its own (several servers may run
 * in one process, as the tests do). Labels are bounded: routes are route names or
 * patterns, never raw paths, so ids in URLs cannot blow up the series count.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly requests = new Counter({ name: 'http_requests_total', help: 'HTTP requests by route and status', labelNames: ['method', 'route', 'status'], registers: [this.registry] });
  readonly latency = new SeriesHistogram(
    'http_request_duration_seconds',
    'HTTP request latency by route',
    ['method', 'route'],
    [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    this.registry,
  );
  readonly tokens = new Counter({ name: 'gatehouse_tokens_issued_total', help: 'Successful token endpoint grants by grant type', labelNames: ['grant_type'], registers: [this.registry] });
  readonly events = new Counter({ name: 'gatehouse_audit_events_total', help: 'Audited events by action (login.succeeded, login.failed, …)', labelNames: ['action'], registers: [this.registry] });
  readonly rateLimited = new Counter({ name: 'gatehouse_rate_limited_total', help: 'Requests refused with 429, by limit', labelNames: ['limit'], registers: [this.registry] });
  readonly storeLatency = new SeriesHistogram(
    'gatehouse_store_operation_duration_seconds',
    'Store operation latency by repository and operation',
    ['repository', 'operation', 'outcome'],
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2],
    this.registry,
  );

  /** Read at scrape time: a queue that stays long says PASSWORD_HASH_CONCURRENCY or the CPUs are short for the sign-in load. */
  readonly passwordHashes = new Gauge({
    name: 'gatehouse_password_hashes',
    help: 'Password hashes (argon2) running and waiting for a slot (PASSWORD_HASH_CONCURRENCY)',
    labelNames: ['state'],
    registers: [this.registry],
    collect() {
      this.set({ state: 'running' }, passwordHashing.active);
      this.set({ state: 'waiting' }, passwordHashing.waiting);
    },
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    shareWithPrimary(this.registry);
  }

  /** Counts and times every request, labelled by the route that served it. */
  readonly middleware: Middleware = async (ctx, next) => {
    const started = process.hrtime.bigint();
    try {
      await next();
    } finally {
      const route =
        (ctx as unknown as KoaContextWithOIDC).oidc?.route ?? (ctx.state.route as string | undefined) ?? (ctx._matchedRoute ? String(ctx._matchedRoute) : 'unmatched');
      this.latency.series(ctx.method, route).observeSince(started);
      this.requests.inc({ method: ctx.method, route, status: String(ctx.status) });
    }
  };

  /** The store with each operation timed (outcome ok or error). */
  timedStore(store: Store): Store {
    return wrapStore(store, (repository, operation, run) => {
      // Looked up on first use, so /metrics lists only operations that ran.
      let ok: HistogramSeries | undefined;
      return async (...args) => {
        const started = process.hrtime.bigint();
        try {
          const result = await run(...args);
          (ok ??= this.storeLatency.series(repository, operation, 'ok')).observeSince(started);
          return result;
        } catch (err) {
          this.storeLatency.series(repository, operation, 'error').observeSince(started);
          throw err;
        }
      };
    });
  }

  /** GET /metrics in Prometheus text format. */
  router(): Router {
    const router = new Router();
    router.get('/metrics', async (ctx) => {
      ctx.set('Cache-Control', 'no-store');
      ctx.type = this.registry.contentType;
      ctx.body = await instanceMetrics(this.registry);
    });
    return router;
  }
}
