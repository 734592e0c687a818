import cluster from 'node:cluster';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './logger.js';
import { superviseWorkers } from './ops/cluster.js';

/** `gatehouse serve`: configuration → store → app → listen, and a graceful SIGTERM; or, with WORKERS > 1, a supervisor of that many such processes. */
export async function serve(env: Record<string, string | undefined>): Promise<void> {
  let config;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const problem of err.problems) process.stderr.write(`config error: ${problem}\n`);
      process.exit(1);
    }
    throw err;
  }
  const logger = createLogger(config.logLevel);
  if (config.workers > 1 && cluster.isPrimary) {
    await superviseWorkers(config, logger).catch((err: unknown) => {
      process.stderr.write(`startup error: ${(err as Error).message}\n`);
      process.exit(1);
    });
    return;
  }
  // Loaded here, not at the top: a supervisor never serves, and stays small without it.
  const { startServer } = await import('./server.js');
  let running;
  try {
    running = await startServer(config, logger);
  } catch (err) {
    // Always on stderr, whatever LOG_LEVEL says: the operator must see why it stopped.
    process.stderr.write(`startup error: ${(err as Error).message}\n`);
    process.exit(1);
  }
  const shutdown = (signal: string) => {
    logger.info('shutting down', { signal });
    running.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error('shutdown failed', { err });
        process.exit(1);
      },
    );
  };
  // `on`, not `once`: a second signal during the drain must not fall back to the
  // default action (immediate death); stop() is idempotent.
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}
