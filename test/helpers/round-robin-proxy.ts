import { createServer, request, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as the proxy passed it on. */
export interface ProxiedRequest {
  /** Index into the upstream list. */
  upstream: number;
  method: string;
  /** Path and query, as the client sent them. */
  path: string;
  /** The upstream's status, or 502 when it could not be reached. */
  status: number;
  /** Why the upstream could not answer, when it could not. */
  error?: string;
}

export interface RoundRobinProxy {
  readonly url: string;
  /** Every request so far, in the order they arrived. */
  readonly log: readonly ProxiedRequest[];
  close(): Promise<void>;
}

/** Connection-level headers (RFC 9110 §7.6.1) are the proxy's own on each side, never forwarded. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-authenticate']);

function endToEnd(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const named = new Set(String(headers.connection ?? '').split(',').map((h) => h.trim().toLowerCase()));
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name) && !named.has(name)));
}

/**
 * A load balancer in front of several instances, for tests: each request (not each
 * connection) goes to the next upstream in turn, with its method, path, headers (cookies
 * and Host included) and body unchanged. Like a typical proxy it appends the client's
 * address to X-Forwarded-For and says the original scheme in X-Forwarded-Proto, which the
 * instances read when TRUST_PROXY is on. Each upstream request has a connection of its
 * own, so an upstream closing an idle kept-alive connection can never fail a request.
 */
export function startRoundRobinProxy(upstreams: readonly string[], port = 0): Promise<RoundRobinProxy> {
  if (upstreams.length === 0) return Promise.reject(new Error('a proxy needs at least one upstream'));
  const log: ProxiedRequest[] = [];
  let next = 0;

  const server = createServer((req, res) => {
    const upstream = next++ % upstreams.length;
    const entry: ProxiedRequest = { upstream, method: req.method ?? 'GET', path: req.url ?? '/', status: 0 };
    log.push(entry);
    const headers = endToEnd(req.headers);
    const forwardedFor = [req.headers['x-forwarded-for'], req.socket.remoteAddress].filter(Boolean).join(', ');
    const target = new URL(`${upstreams[upstream]}${entry.path}`);
    const outbound = request(
      target,
      { method: entry.method, agent: false, headers: { ...headers, 'x-forwarded-for': forwardedFor, 'x-forwarded-proto': 'http' } },
      (answer) => {
        entry.status = answer.statusCode ?? 0;
        res.writeHead(entry.status, answer.statusMessage, endToEnd(answer.headers));
        answer.pipe(res);
      },
    );
    outbound.once('error', (err) => {
      entry.status = 502;
      entry.error = `${(err as NodeJS.ErrnoException).code ?? ''} ${err.message}`.trim();
      if (res.headersSent) res.destroy(err);
      else res.writeHead(502, { 'content-type': 'text/plain' }).end(`upstream ${upstreams[upstream]} failed: ${err.message}`);
    });
    req.pipe(outbound);
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const { port: listening } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${listening}`,
        log,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
