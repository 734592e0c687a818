import { createServer, type Server } from 'node:http';
import { Server as NetServer, type AddressInfo } from 'node:net';
import { passwordHashing } from './accounts/passwords.js';
import { createApp } from './app.js';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import { createMailer, type Mailer } from './mail/mailer.js';
import { LiveProvider } from './oidc/live-provider.js';
import { deleteRetiredKeys } from './oidc/signing-keys.js';
import type { Lifecycle } from './ops/health.js';
import { prepareStore } from './ops/prepare-store.js';
import { ClientRateLimiter } from './security/client-rate-limit.js';
import { resolveRootSecret, Secrets } from './security/secrets.js';
import { withClientCache } from './store/client-cache.js';
import { openStore } from './store/open-store.js';
import { Metrics } from './ops/metrics.js';
import type { Store } from './store/port.js';

const SWEEP_INTERVAL_MS = 60_000;

/** Whether this is the production build (dist/, see bin/build.js) or the sources through tsx. */
const RUNNING_CODE = import.meta.url.endsWith('.js') ? 'compiled' : 'sources';

export interface RunningServer {
  readonly url: string;
  readonly server: Server;
  readonly store: Store;
  readonly mailer: Mailer;
  /** Drains: readiness goes red, in-flight requests finish, then the store closes. */
  stop(): Promise<void>;
}

/** Opens the store and everything in it needs at start, then serves. */
export async function startServer(config: Config, logger: Logger): Promise<RunningServer> {
  if (config.issuer.startsWith('https:') && !config.trustProxy) {
    logger.warn('ISSUER is https but TRUST_PROXY is false: behind a TLS-terminating proxy, set TRUST_PROXY=true or secure cookies cannot be set');
  }
  passwordHashing.setLimit(config.passwordHashConcurrency);
  const secrets = new Secrets(resolveRootSecret(config, logger));
  const store = await openStore(config.databaseUrl);
  const metrics = new Metrics();
  // What serves requests sees the store through the metrics' timing, with clients cached.
  const servingStore = withClientCache(metrics.timedStore(store));
  let live: LiveProvider;
  try {
    await prepareStore(store, secrets, config, logger);
    live = await LiveProvider.start(config, servingStore, secrets, logger, metrics);
  } catch (err) {
    await store.close();
    throw err;
  }

  const lifecycle: Lifecycle = { draining: false };
  const mailer = createMailer(config.mail, logger);
  const clientLimiter = new ClientRateLimiter(servingStore, { perClient: config.rateLimits.tokenPerClient, windowSeconds: config.rateLimits.windowSeconds }, logger, () =>
    metrics.rateLimited.inc({ limit: 'token' }),
  );
  clientLimiter.start();
  const app = createApp({ config, store: servingStore, secrets, live, logger, lifecycle, mailer, metrics, clientLimiter });
  // Behind a load balancer this must outlast the balancer's own idle timeout, or the
  // balancer may send a request on a connection this end is closing.
  const server = createServer({ keepAliveTimeout: config.keepAliveTimeout * 1000 }, app.callback());
  // While draining, every answer closes its connection (`Connection: close`), so a
  // keep-alive client opens a new one, which is refused, rather than reusing this one.
  server.prependListener('request', (_req, res) => {
    if (lifecycle.draining) res.shouldKeepAlive = false;
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  logger.info('gatehouse listening', { issuer: config.issuer, port, store: store.driver, code: RUNNING_CODE });

  const sweeper = setInterval(() => {
    Promise.all([store.sweepExpired(), deleteRetiredKeys(store)]).catch((err: unknown) => logger.warn('sweep failed', { err }));
  }, SWEEP_INTERVAL_MS);
  sweeper.unref();

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      lifecycle.draining = true;
      clearInterval(sweeper);
      live.stop();
      // Stop accepting now, but not through server.close(): it destroys every keep-alive
      // connection idle at that instant, and a request already on its way on one of them
      // would be reset. A connection in use closes after its answer (with
      // `Connection: close`); an idle one at the keep-alive timeout the server advertises
      // (KEEP_ALIVE_TIMEOUT), which clients already expect and stop reusing it before.
      // SHUTDOWN_TIMEOUT bounds it all.
      const closed = new Promise<void>((resolve) => server.once('close', () => resolve()));
      NetServer.prototype.close.call(server);
      const deadline = setTimeout(() => server.closeAllConnections(), config.shutdownTimeout * 1000);
      await closed;
      clearTimeout(deadline);
      await clientLimiter.stop();
      await mailer.close();
      await store.close();
      logger.info('gatehouse stopped');
    })());

  return { url: `http://127.0.0.1:${port}`, server, store, mailer, stop };
}
