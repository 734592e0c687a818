import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import type { UserRecord } from '../../src/store/port.js';
import { backends } from '../helpers/backends.js';
import { freePort } from '../helpers/free-port.js';
import { startTestServer, type TestServer } from '../helpers/gatehouse.js';
import { discover, login } from '../helpers/relying-party.js';

const REDIRECT = 'https://app.example.test/callback';
const BYE = 'https://app.example.test/bye';

describe('tokens and logout', function () {
  this.timeout(60_000);
  let server: TestServer;
  let user: UserRecord;
  let config: oidc.Configuration;

  before(async () => {
    server = await startTestServer(await backends[0]!.freshDatabaseUrl(), { ALLOW_PRIVATE_NETWORK_REQUESTS: 'true' });
    user = await server.createUser();
    config = await discover(server.issuer, await server.createClient({ redirect_uris: [REDIRECT], post_logout_redirect_uris: [BYE] }));
  });
  after(() => server?.stop());

  it('signs ID tokens with RS256 for a client that registered it', async () => {
    const rsa = await discover(server.issuer, await server.createClient({ redirect_uris: [REDIRECT], id_token_signed_response_alg: 'RS256' }));
    const { tokens } = await login(rsa, { redirectUri: REDIRECT, email: user.email });
    assert.equal(decodeProtectedHeader(tokens.id_token!).alg, 'RS256');
  });

  it('signs JWT access tokens with RS256 when ACCESS_TOKEN_SIGNING_ALG says so (ES256 by default)', async () => {
    const rsaServer = await startTestServer(await backends[0]!.freshDatabaseUrl(), { ACCESS_TOKEN_SIGNING_ALG: 'RS256' });
    try {
      const machine = await discover(rsaServer.issuer, await rsaServer.createClient({ grant_types: ['client_credentials'], redirect_uris: [] }));
      const token = (await oidc.clientCredentialsGrant(machine)).access_token;
      const { protectedHeader } = await jwtVerify(token, createRemoteJWKSet(new URL(`${rsaServer.issuer}/jwks`)), { issuer: rsaServer.issuer });
      assert.equal(protectedHeader.alg, 'RS256');
    } finally {
      await rsaServer.stop();
    }
    const machine = await discover(server.issuer, await server.createClient({ grant_types: ['client_credentials'], redirect_uris: [] }));
    assert.equal(decodeProtectedHeader((await oidc.clientCredentialsGrant(machine)).access_token).alg, 'ES256');
  });

  describe('refresh tokens', () => {
    it('carry at least 128 bits and are bound to their client', async () => {
      const { tokens } = await login(config, { redirectUri: REDIRECT, email: user.email });
      assert.ok(Buffer.from(tokens.refresh_token!, 'base64url').length >= 16);
      const other = await discover(server.issuer, await server.createClient({ redirect_uris: [REDIRECT] }));
      await assert.rejects(oidc.refreshTokenGrant(other, tokens.refresh_token!), (err: oidc.ResponseBodyError) => err.error === 'invalid_grant');
      // The rightful client can still use it: a foreign attempt burns nothing.
      await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    });

    it('keep their absolute lifetime through rotation', async () => {
      const { tokens } = await login(config, { redirectUri: REDIRECT, email: user.email });
      const first = await oidc.tokenIntrospection(config, tokens.refresh_token!, { token_type_hint: 'refresh_token' });
      await new Promise((r) => setTimeout(r, 1100));
      const rotated = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
      const second = await oidc.tokenIntrospection(config, rotated.refresh_token!, { token_type_hint: 'refresh_token' });
      assert.equal(first.active, true);
      assert.equal(second.active, true);
      assert.ok(second.exp! <= first.exp!, `rotation extended the lifetime: ${second.exp} > ${first.exp}`);
    });
  });

  it("refuses logout with another client's id_token_hint for this client's post_logout_redirect_uri", async () => {
    const otherClient = await server.createClient({ redirect_uris: [REDIRECT], post_logout_redirect_uris: ['https://other.example.test/bye'] });
    const other = await discover(server.issuer, otherClient);
    const { tokens } = await login(other, { redirectUri: REDIRECT, email: user.email });
    const url = oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: BYE });
    const res = await fetch(url, { redirect: 'manual' });
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('location'), null);
  });

  describe('back-channel logout', () => {
    let receiver: Server;
    let received: string[];
    let receiverUrl: string;
    before(async () => {
      received = [];
      const port = await freePort();
      receiverUrl = `http://127.0.0.1:${port}/backchannel`;
      receiver = createServer((req, res) => {
        let body = '';
        req.on('data', (d) => (body += d));
        req.on('end', () => {
          received.push(new URLSearchParams(body).get('logout_token') ?? '');
          res.writeHead(200).end();
        });
      });
      await new Promise<void>((resolve) => receiver.listen(port, '127.0.0.1', resolve));
    });
    after(() => receiver?.close());

    it('sends the tool a signed logout+jwt with iss aud iat exp jti events sid sub and no nonce', async () => {
      const tool = await server.createClient({ redirect_uris: [REDIRECT], post_logout_redirect_uris: [BYE], backchannel_logout_uri: receiverUrl });
      const toolConfig = await discover(server.issuer, tool);
      const { tokens, agent } = await login(toolConfig, { redirectUri: REDIRECT, email: user.email, extra: { nonce: 'n-0S6_WzA2Mj' } });
      const confirm = await agent.open(oidc.buildEndSessionUrl(toolConfig, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: BYE }).toString(), BYE);
      await agent.submit(confirm, '/session/end/confirm', { logout: 'yes' }, BYE);

      assert.equal(received.length, 1);
      const { payload, protectedHeader } = await jwtVerify(received[0]!, createRemoteJWKSet(new URL(`${server.issuer}/jwks`)), {
        issuer: server.issuer,
        audience: tool.client_id,
        typ: 'logout+jwt',
      });
      assert.equal(protectedHeader.typ, 'logout+jwt');
      assert.deepEqual(payload.events, { 'http://schemas.openid.net/event/backchannel-logout': {} });
      assert.equal(payload.sub, user.id);
      assert.equal(payload.sid, tokens.claims()!.sid);
      for (const claim of ['iat', 'exp', 'jti']) assert.ok(payload[claim], `${claim} present`);
      assert.equal(payload.nonce, undefined);
    });

    it('by default refuses to call private or loopback addresses (SSRF protection)', async () => {
      const guarded = await startTestServer(await backends[0]!.freshDatabaseUrl());
      try {
        const someone = await guarded.createUser();
        const tool = await guarded.createClient({ redirect_uris: [REDIRECT], post_logout_redirect_uris: [BYE], backchannel_logout_uri: receiverUrl });
        const toolConfig = await discover(guarded.issuer, tool);
        const { tokens, agent } = await login(toolConfig, { redirectUri: REDIRECT, email: someone.email });
        const confirm = await agent.open(oidc.buildEndSessionUrl(toolConfig, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: BYE }).toString(), BYE);
        const before = received.length;
        const done = await agent.submit(confirm, '/session/end/confirm', { logout: 'yes' }, BYE);
        assert.ok(done.url.startsWith(BYE), 'the person is still signed out and sent back');
        assert.equal(received.length, before);
      } finally {
        await guarded.stop();
      }
    });
  });
});
