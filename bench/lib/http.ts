/**
 * A minimal HTTP/1.1 client on node:http with keep-alive agents, for the set-up steps and
 * for the custom load loops (login, refresh rotation) where every request depends on the
 * previous answer. No redirects are followed here; callers decide.
 */
import { Agent, request } from 'node:http';

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export function keepAliveAgent(maxSockets = 1): Agent {
  return new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
}

const sharedAgent = keepAliveAgent(16);

export function httpRequest(
  method: string,
  url: string,
  options: { headers?: Record<string, string>; body?: string; agent?: Agent; timeoutMs?: number } = {},
): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.body !== undefined) headers['content-length'] = String(Buffer.byteLength(options.body));
    const req = request(url, { method, headers, agent: options.agent ?? sharedAgent, timeout: options.timeoutMs ?? 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`timeout: ${method} ${url}`)));
    req.end(options.body);
  });
}

/** The JSON body of a response that must have `expected` status. */
export async function jsonRequest<T = Record<string, unknown>>(
  method: string,
  url: string,
  options: { headers?: Record<string, string>; json?: unknown; form?: Record<string, string>; agent?: Agent; expected?: number | number[] } = {},
): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  let body: string | undefined;
  if (options.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.json);
  } else if (options.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(options.form).toString();
  }
  const res = await httpRequest(method, url, { headers, ...(body !== undefined ? { body } : {}), ...(options.agent ? { agent: options.agent } : {}) });
  const expected = options.expected ?? (method === 'POST' ? [200, 201] : [200]);
  const ok = Array.isArray(expected) ? expected.includes(res.status) : res.status === expected;
  if (!ok) throw new Error(`${method} ${url} answered ${res.status}: ${res.body.slice(0, 400)}`);
  return (res.body ? JSON.parse(res.body) : {}) as T;
}

/** RFC 6749 §2.3.1 client_secret_basic: id and secret form-encoded, then base64. */
export const basicAuth = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

/** Percentile (0–100) of an ascending array of numbers, nearest-rank. */
export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}
