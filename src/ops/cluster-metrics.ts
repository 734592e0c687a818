import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type PrometheusContentType, type Registry } from 'prom-client';

// In cluster mode one scrape reaches one worker, whichever the kernel picked, and must not
// report a fraction of the traffic: the worker asks the primary, which collects every
// worker's registry through prom-client's own cluster messages and sums them.

const METRICS_REQUEST = 'gatehouse:metrics-request';
const METRICS_REPLY = 'gatehouse:metrics-reply';
/** A primary that does not answer in this time is not coming back. */
const REPLY_TIMEOUT_MS = 5000;

interface MetricsMessage {
  type: string;
  id: number;
  body?: string;
  error?: string;
}

/** In a worker, has prom-client answer the primary's collection with this registry. */
export function shareWithPrimary(registry: Registry): void {
  if (!cluster.isWorker) return;
  // prom-client installs a worker's answering listener when an AggregatorRegistry is made.
  new AggregatorRegistry<PrometheusContentType>();
  AggregatorRegistry.setRegistries([registry]);
}

let lastRequestId = 0;

/** The instance's metrics: this process's registry, or in a worker, every worker's summed. */
export function instanceMetrics(registry: Registry): Promise<string> {
  const send = process.send?.bind(process);
  if (!cluster.isWorker || !send) return registry.metrics();
  const id = ++lastRequestId;
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      process.off('message', onMessage);
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error('the cluster primary did not answer the metrics request'));
    }, REPLY_TIMEOUT_MS);
    const onMessage = (message: MetricsMessage) => {
      if (message?.type !== METRICS_REPLY || message.id !== id) return;
      done();
      if (message.error !== undefined) reject(new Error(message.error));
      else resolve(message.body ?? '');
    };
    process.on('message', onMessage);
    send({ type: METRICS_REQUEST, id });
  });
}

/** The primary's side: answers a worker's metrics request with every worker's registry, summed. */
export function answerMetricsRequests(aggregator: AggregatorRegistry<PrometheusContentType>, worker: Worker): void {
  worker.on('message', (message: MetricsMessage) => {
    if (message?.type !== METRICS_REQUEST) return;
    const reply = (fields: Partial<MetricsMessage>) => {
      if (worker.isConnected()) worker.send({ type: METRICS_REPLY, id: message.id, ...fields });
    };
    aggregator.clusterMetrics().then(
      (body) => reply({ body }),
      (err: unknown) => reply({ error: (err as Error).message }),
    );
  });
}
