/**
 * Baseline for POST /api/validate with a JWT: a plain node:http server that, per request,
 * reads the bearer token and verifies it with jose's jwtVerify against a local JWKS (the
 * same keys, issuer, audiences and `typ` Gatehouse checks), then answers 200 with the
 * claims, or 401. No store, no framework: the floor for local JWT validation in Node.
 *
 * Env: PORT, TARGETS = JSON [{ "issuer", "jwksUri", "audiences": [...] }]; POST /verify/<index>.
 */
import { createServer } from 'node:http';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { exitCleanlyOnSigterm } from './shared.js';

interface Target {
  issuer: string;
  jwksUri: string;
  audiences: string[];
}

const targets = JSON.parse(process.env.TARGETS ?? '[]') as Target[];
const verifiers = await Promise.all(
  targets.map(async (t) => {
    const jwks = (await (await fetch(t.jwksUri)).json()) as JSONWebKeySet;
    return { ...t, keys: createLocalJWKSet(jwks) };
  }),
);

const server = createServer((req, res) => {
  req.resume();
  req.on('end', async () => {
    if (req.url === '/healthz') {
      res.writeHead(200).end('ok');
      return;
    }
    const target = verifiers[Number(req.url?.split('/')[2] ?? 0)];
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!target || !token) {
      res.writeHead(target ? 401 : 404).end();
      return;
    }
    try {
      const { payload } = await jwtVerify(token, target.keys, { issuer: target.issuer, audience: target.audiences, typ: 'at+jwt' });
      const body = JSON.stringify({ valid: true, sub: payload.sub, client_id: payload.client_id });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
    } catch {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"valid":false}');
    }
  });
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
exitCleanlyOnSigterm();
