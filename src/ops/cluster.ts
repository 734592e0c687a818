import cluster from 'node:cluster';
import { AggregatorRegistry, type PrometheusContentType } from 'prom-client';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { resolveRootSecret, Secrets } from '../security/secrets.js';
import { openStore } from '../store/open-store.js';
import { answerMetricsRequests } from './cluster-metrics.js';
import { prepareStore } from './prepare-store.js';

/** A worker whose predecessor died is started after this pause, so a crash loop cannot spin. */
const RESTART_DELAY_MS = 1000;

/**
 * `WORKERS` > 1: this process only supervises. It prepares the store once (so workers do
 * not race to create the first signing keys), forks the workers, which share the
 * listening port through node:cluster, starts a new one when one dies, and on SIGTERM or
 * SIGINT passes the signal on and exits when every worker has drained. All state is in
 * the store, so workers behave exactly like separate instances.
 */
export async function superviseWorkers(config: Config, logger: Logger): Promise<void> {
  const store = await openStore(config.databaseUrl);
  try {
    await prepareStore(store, new Secrets(resolveRootSecret(config, logger)), config, logger);
  } finally {
    await store.close();
  }

  const aggregator = new AggregatorRegistry<PrometheusContentType>();
  let stopping = false;
  let failed = false;
  const fork = () => answerMetricsRequests(aggregator, cluster.fork());

  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      failed ||= code !== 0;
      if (Object.keys(cluster.workers ?? {}).length === 0) {
        logger.info('gatehouse stopped', { workers: config.workers });
        process.exit(failed ? 1 : 0);
      }
      return;
    }
    logger.error('worker exited; starting another', { pid: worker.process.pid, code, signal });
    setTimeout(fork, RESTART_DELAY_MS);
  });
  for (let i = 0; i < config.workers; i++) fork();
  logger.info('gatehouse supervising workers', { workers: config.workers });

  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down', { signal, workers: config.workers });
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}
