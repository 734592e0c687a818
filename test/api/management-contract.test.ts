import assert from 'node:assert/strict';
import { Validator } from '@seriousme/openapi-schema-validator';
import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import { backends } from '../helpers/backends.js';
import { startTestServer, type TestServer } from '../helpers/gatehouse.js';
import { adminCredential, callApi, keyFor } from '../helpers/management.js';
import { discover, login } from '../helpers/relying-party.js';

interface Operation {
  method: string;
  path: string;
  tags: string[];
  security?: unknown[];
  requestBody?: { content: { 'application/json': { schema: { properties?: Record<string, unknown> } } } };
  parameters: Array<{ name: string; in: string }>;
  responses: Record<string, unknown>;
}

/** Bodies that pass validation, so a request reaches the lookup that answers 404. */
const VALID_BODIES: Record<string, unknown> = {
  'PATCH /api/users/{id}': { name: 'x' },
  'PATCH /api/tools/{id}': { name: 'x' },
  'PUT /api/users/{id}/permissions/{tool}': { level: 'read' },
};
const SELF_TAGS = new Set(['Me', 'API keys', 'Validate']);

/**
 * The management API against its own OpenAPI document: the document is valid OpenAPI 3.1,
 * and every route in it refuses anonymous and non-admin callers, malformed input and
 * unknown ids with the documented statuses and error shape.
 */
describe('management API contract (OpenAPI document)', function () {
  this.timeout(60_000);
  let server: TestServer;
  let adminKey: string;
  let viewerKey: string;
  let operations: Operation[];

  before(async () => {
    server = await startTestServer(await backends[0]!.freshDatabaseUrl());
    ({ key: adminKey } = await adminCredential(server));
    viewerKey = await keyFor(server, await server.createUser());
    const document = (await (await fetch(`${server.issuer}/api/openapi.json`)).json()) as { paths: Record<string, Record<string, Omit<Operation, 'method' | 'path'>>> };
    operations = Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]) => ({ ...op, method: method.toUpperCase(), path, parameters: op.parameters ?? [] })),
    );
  });
  after(() => server?.stop());

  const concrete = (path: string) => path.replace(/\{[^}]+\}/g, 'no-such-id');
  const assertError = (res: { status: number; body: unknown }, status: number, what: string) => {
    assert.equal(res.status, status, `${what}: ${JSON.stringify(res.body)}`);
    assert.deepEqual(Object.keys(res.body as object).sort(), ['error', 'error_description'], what);
  };

  it('is a valid OpenAPI 3.1 document covering every part of the API', async () => {
    const document = await (await fetch(`${server.issuer}/api/openapi.json`)).json();
    const result = await new Validator().validate(document as Parameters<Validator["validate"]>[0]);
    assert.equal(result.valid, true, JSON.stringify(result.errors));
    assert.equal((document as { openapi: string }).openapi, '3.1.0');
    const listed = operations.map((o) => `${o.method} ${o.path}`);
    for (const expected of ['GET /api/users', 'POST /api/tools', 'PUT /api/users/{id}/permissions/{tool}', 'POST /api/keys', 'GET /api/audit', 'POST /api/validate', 'PUT /api/me/password']) {
      assert.ok(listed.includes(expected), `${expected} is documented`);
    }
  });

  it('every secured route answers 401 without a credential or with an invalid one, as documented', async () => {
    for (const op of operations.filter((o) => o.security)) {
      const what = `${op.method} ${op.path}`;
      assert.ok(op.responses['401'], `${what} documents 401`);
      assertError(await callApi(server, undefined, op.method, concrete(op.path), op.requestBody ? {} : undefined), 401, `${what} anonymous`);
      assertError(await callApi(server, 'not-a-real-token', op.method, concrete(op.path), op.requestBody ? {} : undefined), 401, `${what} invalid`);
    }
    const validate = await callApi(server, undefined, 'POST', '/api/validate');
    assert.equal(validate.status, 401);
    assert.equal(validate.body.valid, false);
  });

  it('every admin route answers 403 to a person who is not an admin, as documented', async () => {
    for (const op of operations.filter((o) => o.security && !o.tags.some((t) => SELF_TAGS.has(t)))) {
      const what = `${op.method} ${op.path}`;
      assert.ok(op.responses['403'], `${what} documents 403`);
      assertError(await callApi(server, viewerKey, op.method, concrete(op.path), VALID_BODIES[`${op.method} ${op.path}`] ?? (op.requestBody ? {} : undefined)), 403, what);
    }
  });

  it('every route with a body answers 400 naming the field for wrong types, and 415 for a non-JSON body', async () => {
    for (const op of operations.filter((o) => o.requestBody)) {
      const what = `${op.method} ${op.path}`;
      const properties = Object.keys(op.requestBody!.content['application/json'].schema.properties ?? {});
      const wrong = Object.fromEntries(properties.map((p) => [p, { nested: ['wrong', 'type'] }]));
      const credential = op.tags.includes('Validate') ? viewerKey : adminKey;
      const path = concrete(op.path);
      const res = await callApi(server, credential, op.method, path, wrong);
      if (res.status === 404) continue; // an unknown id is looked up only after the body is valid
      assertError(res, 400, what);
      assert.ok(op.responses['400'], `${what} documents 400`);
      assert.ok(properties.some((p) => res.body.error_description.includes(p)), `${what}: "${res.body.error_description}" names a field`);
      assertError(await callApi(server, credential, op.method, path, '{"unterminated'), 400, `${what} broken JSON`);
      const plain = await fetch(`${server.issuer}${path}`, { method: op.method, headers: { authorization: `Bearer ${credential}`, 'content-type': 'text/plain' }, body: 'x' });
      assert.equal(plain.status, 415, `${what} non-JSON`);
      assertError(await callApi(server, credential, op.method, path, { ...VALID_BODIES[`${op.method} ${op.path}`] as object, unexpected_field: 1 }), 400, `${what} unknown field`);
    }
  });

  it('no malformed input makes any route answer 5xx', async () => {
    const nested = (depth: number): unknown => (depth === 0 ? 'x' : { a: nested(depth - 1) });
    const payloads: unknown[] = [
      'null', '[]', '"string"', '12', 'true', '{"a":1,"a":2}', '{"__proto__":{"admin":true}}', '\u0000{}',
      JSON.stringify({ email: 'x'.repeat(15_000) }),
      JSON.stringify({ name: '\u202e\ud83d\ude00\u0000\ufeff', email: 'ünïcødé@exämple.com', level: 'ʀᴇᴀᴅ', id: '../../etc' }),
      JSON.stringify(nested(500)),
      'x'.repeat(20_000),
    ];
    for (const op of operations.filter((o) => o.requestBody)) {
      const credential = op.tags.some((t) => SELF_TAGS.has(t)) ? viewerKey : adminKey;
      for (const payload of payloads) {
        const res = await callApi(server, credential, op.method, concrete(op.path), payload);
        assert.ok(res.status >= 400 && res.status < 500, `${op.method} ${op.path} with ${String(payload).slice(0, 40)}: ${res.status}`);
      }
    }
    for (const op of operations.filter((o) => o.parameters.some((p) => p.in === 'path'))) {
      for (const id of ['%00', '%E2%80%AE', 'x'.repeat(5000), '..%2F..%2Fetc', '%F0%9F%98%80']) {
        const res = await callApi(server, adminKey, op.method, op.path.replace(/\{[^}]+\}/g, id), VALID_BODIES[`${op.method} ${op.path}`]);
        assert.ok(res.status < 500, `${op.method} ${op.path} with id ${id.slice(0, 20)}: ${res.status}`);
      }
    }
  });

  it('every route with an id answers 404 for an unknown one, as documented', async () => {
    for (const op of operations.filter((o) => o.parameters.some((p) => p.in === 'path'))) {
      const what = `${op.method} ${op.path}`;
      assert.ok(op.responses['404'], `${what} documents 404`);
      const credential = op.tags.includes('API keys') ? viewerKey : adminKey;
      assertError(await callApi(server, credential, op.method, concrete(op.path), VALID_BODIES[`${op.method} ${op.path}`]), 404, what);
    }
  });

  it('query parameters are validated: ranges, unknown and repeated parameters are 400', async () => {
    for (const query of ['limit=0', 'limit=1000', 'limit=abc', 'bogus=1', 'role=admin&role=viewer', 'status=gone', `email=${'x'.repeat(300)}`]) {
      assertError(await callApi(server, adminKey, 'GET', `/api/users?${query}`), 400, query);
    }
    assertError(await callApi(server, adminKey, 'GET', '/api/audit?since=yesterday'), 400, 'since');
  });

  it('an admin\'s token needs the admin scope from a client registered for it; a machine client can hold it too', async () => {
    const redirect = 'https://admin-script.example.test/cb';
    const { admin } = await adminCredential(server);
    const ordinary = await discover(server.issuer, await server.createClient({ redirect_uris: [redirect] }));
    const asked = await login(ordinary, { redirectUri: redirect, email: admin.email, scope: 'openid admin' });
    assertError(await callApi(server, asked.tokens.access_token, 'GET', '/api/users'), 403, 'a tool an admin signs in to cannot act as them');

    const script = await discover(server.issuer, await server.createClient({ redirect_uris: [redirect], scope: 'openid admin' }));
    const scripted = await login(script, { redirectUri: redirect, email: admin.email, scope: 'openid admin' });
    assert.equal((await callApi(server, scripted.tokens.access_token, 'GET', '/api/users')).status, 200);
    const withoutScope = await login(script, { redirectUri: redirect, email: admin.email, scope: 'openid' });
    assertError(await callApi(server, withoutScope.tokens.access_token, 'GET', '/api/users'), 403, 'no admin scope');

    const viewer = await server.createUser();
    const viewerToken = await login(script, { redirectUri: redirect, email: viewer.email, scope: 'openid admin' });
    assertError(await callApi(server, viewerToken.tokens.access_token, 'GET', '/api/users'), 403, 'the scope does not make a viewer an admin');

    const machine = await callApi(server, adminKey, 'POST', '/api/tools', { id: 'robot', name: 'Robot', type: 'machine', scope: 'admin' });
    const robot = await oidc.discovery(new URL(server.issuer), 'robot', machine.body.client_secret, undefined, { execute: [oidc.allowInsecureRequests] });
    const robotToken = await oidc.clientCredentialsGrant(robot, { scope: 'admin' });
    assert.equal(decodeJwt(robotToken.access_token).gty, 'client-credentials', 'a machine token says so, and its sub is not a person');
    assert.equal((await callApi(server, robotToken.access_token, 'GET', '/api/users')).status, 200);
    const audit = await callApi(server, robotToken.access_token, 'POST', '/api/users', { email: 'made-by-robot@example.com' });
    assert.equal(audit.status, 201);
    const events = await callApi(server, adminKey, 'GET', `/api/audit?action=user.created&target_id=${audit.body.id}`);
    assert.deepEqual(events.body.data[0].actor, { type: 'client', id: 'robot' });

    await callApi(server, adminKey, 'POST', '/api/tools', { id: 'plain-robot', name: 'Plain robot', type: 'machine' }).then(async (res) => {
      const plain = await oidc.discovery(new URL(server.issuer), 'plain-robot', res.body.client_secret, undefined, { execute: [oidc.allowInsecureRequests] });
      const token = await oidc.clientCredentialsGrant(plain);
      assertError(await callApi(server, token.access_token, 'GET', '/api/users'), 403, 'a machine without the admin scope');
      assertError(await callApi(server, token.access_token, 'GET', '/api/me'), 403, 'a machine has no account');
    });
  });
});
