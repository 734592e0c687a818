import assert from 'node:assert/strict';
import { backends } from '../helpers/backends.js';
import { startTestServer, testEnv } from '../helpers/gatehouse.js';
import { runCli, type CliResult } from '../helpers/processes.js';

const PASSWORD = 'a long enough password';

interface User { id: string; email: string; name: string | null; role: string; status: string; email_verified: boolean; permissions?: Permission[] }
interface Tool { id: string; name: string; type: string; auth_method: string; redirect_uris: string[]; restricted: boolean; require_mfa: boolean; client_secret?: string }
interface Permission { user_id: string; tool: string; level: string }
interface ApiKey { id: string; user_id: string; name: string; prefix: string; tool: string | null; read_only: boolean; expires_at: string | null; revoked_at: string | null; key?: string }
interface AuditEvent { id: string; action: string; actor: { type: string; id: string | null }; target: { type: string; id: string } | null; ip: string | null; details: Record<string, unknown> }
interface Page<T> { data: T[]; next_cursor?: string | null }

describe('gatehouse CLI: management commands', function () {
  this.timeout(120_000);
  let env: Record<string, string>;
  before(async () => {
    env = await testEnv(await backends[0]!.freshDatabaseUrl());
  });

  const cli = (...args: string[]) => runCli(args, env);
  /** Runs a command that must succeed, and returns its JSON. */
  const ok = async <T>(...args: string[]): Promise<T> => {
    const result = await cli(...args);
    assert.equal(result.code, 0, `gatehouse ${args.join(' ')}: ${result.stderr}`);
    return JSON.parse(result.stdout) as T;
  };
  /** Runs a command that must fail with `code`, nothing on stdout, and an error line matching `pattern`. */
  const fails = async (code: number, pattern: RegExp, ...args: string[]): Promise<CliResult> => {
    const result = await cli(...args);
    assert.equal(result.code, code, `gatehouse ${args.join(' ')}: ${result.stdout}${result.stderr}`);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, pattern);
    return result;
  };
  const audit = (...filters: string[]) => ok<Page<AuditEvent>>('audit', 'list', ...filters);

  it('users: list with filters and pages, get, update the role, and the audit log names the CLI', async () => {
    const [ann, bob] = await Promise.all([
      ok<User>('users', 'create', '--email', 'ann@users.test', '--password', PASSWORD, '--name', 'Ann', '--admin'),
      ok<User>('users', 'create', '--email', 'bob@users.test', '--password', PASSWORD, '--name', 'Bob'),
    ]);
    await ok<User>('users', 'create', '--email', 'carol@other.test', '--password', PASSWORD);

    const [byEmail, viewers, firstPage, bobFull] = await Promise.all([
      ok<Page<User>>('users', 'list', '--email', 'USERS.test'),
      ok<Page<User>>('users', 'list', '--role', 'viewer', '--email', 'users.test'),
      ok<Page<User>>('users', 'list', '--limit', '2'),
      ok<User>('users', 'get', '--email', 'Bob@Users.test'),
    ]);
    assert.deepEqual(byEmail.data.map((u) => u.email), ['ann@users.test', 'bob@users.test']);
    assert.equal(byEmail.next_cursor, null);
    assert.deepEqual(viewers.data.map((u) => u.email), ['bob@users.test']);
    assert.deepEqual(Object.keys(viewers.data[0]!).sort(), ['created_at', 'email', 'email_verified', 'id', 'name', 'role', 'status', 'updated_at']);
    assert.equal(firstPage.data.length, 2);
    assert.ok(firstPage.next_cursor, 'a further page');
    const secondPage = await ok<Page<User>>('users', 'list', '--limit', '2', '--cursor', firstPage.next_cursor!);
    assert.deepEqual(secondPage.data.map((u) => u.email), ['carol@other.test']);
    assert.equal(bobFull.id, bob.id);
    assert.deepEqual(bobFull.permissions, []);
    assert.equal(JSON.stringify(bobFull).includes('password'), false);

    const promoted = await ok<User>('users', 'update', '--id', bob.id, '--role', 'admin', '--name', 'Robert', '--email-verified', 'true');
    assert.equal(promoted.role, 'admin');
    assert.equal(promoted.name, 'Robert');
    assert.equal(promoted.email_verified, true);
    const moved = await ok<User>('users', 'update', '--email', 'bob@users.test', '--new-email', 'Robert@Users.test');
    assert.equal(moved.email, 'robert@users.test');
    assert.equal(moved.email_verified, false, 'a new email is unverified');

    const events = await audit('--target-id', bob.id);
    // Events of one command may share a millisecond, and then their order is not fixed.
    assert.deepEqual(events.data.map((e) => e.action).sort(), ['user.created', 'user.role_changed', 'user.updated', 'user.updated']);
    assert.equal(events.data[0]!.action, 'user.updated', 'the email change came last');
    const roleChange = events.data.find((e) => e.action === 'user.role_changed')!;
    assert.deepEqual(roleChange.actor, { type: 'cli', id: null });
    assert.equal(roleChange.ip, null);
    assert.deepEqual(roleChange.target, { type: 'user', id: bob.id });
    assert.deepEqual(roleChange.details, { from: 'viewer', to: 'admin' });

    // Input goes through the API's schemas; nothing changes on a refusal.
    await Promise.all([
      fails(1, /^error: email_verified: .*expected boolean/m, 'users', 'update', '--id', ann.id, '--email-verified', 'maybe'),
      fails(1, /^error: role: /m, 'users', 'update', '--id', ann.id, '--role', 'owner'),
      fails(1, /^error: input: send at least one field to change$/m, 'users', 'update', '--id', ann.id),
      fails(1, /^error: email: must be an email address$/m, 'users', 'update', '--id', ann.id, '--new-email', 'not-an-email'),
      fails(1, /^error: limit: /m, 'users', 'list', '--limit', '0'),
      fails(1, /^error: password: /m, 'users', 'update', '--id', ann.id, '--password', 'short'),
      fails(1, /^error: user not found: no user has the email nobody@users\.test$/m, 'users', 'get', '--email', 'nobody@users.test'),
      fails(1, /^error: user not found: no user has the id no-such-id$/m, 'users', 'update', '--id', 'no-such-id', '--name', 'X'),
    ]);
    assert.equal((await ok<User>('users', 'get', '--id', ann.id)).role, 'admin');
  });

  it('users: disable, enable and delete, never the only active admin', async () => {
    const lone = await testEnv(await backends[0]!.freshDatabaseUrl());
    const run = async <T>(...args: string[]) => {
      const result = await runCli(args, lone);
      return { ...result, json: () => JSON.parse(result.stdout) as T };
    };
    const admin = (await run<User>('users', 'create', '--email', 'root@lone.test', '--password', PASSWORD, '--admin')).json();
    const refused = await run('users', 'disable', '--email', 'root@lone.test');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^error: This is the only active admin; make another admin first\.$/m);
    const notDeleted = await run('users', 'delete', '--id', admin.id);
    assert.equal(notDeleted.code, 1);
    assert.match(notDeleted.stderr, /only active admin/);

    const viewer = (await run<User>('users', 'create', '--email', 'temp@lone.test', '--password', PASSWORD)).json();
    const disabled = await run<User>('users', 'disable', '--email', 'temp@lone.test');
    assert.equal(disabled.code, 0, disabled.stderr);
    assert.equal(disabled.json().status, 'disabled');
    assert.equal((await run<User>('users', 'enable', '--id', viewer.id)).json().status, 'active');
    const deleted = await run<{ id: string; deleted: boolean }>('users', 'delete', '--email', 'temp@lone.test');
    assert.deepEqual(deleted.json(), { id: viewer.id, email: 'temp@lone.test', deleted: true });
    const gone = await run('users', 'get', '--id', viewer.id);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /^error: user not found/m);
    const actions = (await run<Page<AuditEvent>>('audit', 'list', '--target-id', viewer.id)).json().data.map((e) => `${e.action}:${e.actor.type}`);
    assert.deepEqual(actions, ['user.deleted:cli', 'user.enabled:cli', 'user.disabled:cli', 'user.created:cli']);
  });

  it('tools: create shows the secret once, get/list/update never show it, rotate, delete', async () => {
    const created = await ok<Tool>('tools', 'create', '--id', 'wiki', '--name', 'Wiki', '--redirect-uri', 'https://wiki.example.test/cb', '--redirect-uri', 'https://wiki.example.test/cb2', '--require-mfa');
    assert.equal(created.type, 'web');
    assert.deepEqual(created.redirect_uris, ['https://wiki.example.test/cb', 'https://wiki.example.test/cb2']);
    assert.equal(created.require_mfa, true);
    const secret = created.client_secret!;
    assert.ok(secret.length >= 43);

    const [got, listed, machine] = await Promise.all([
      cli('tools', 'get', '--id', 'wiki'),
      cli('tools', 'list'),
      ok<Tool>('tools', 'create', '--id', 'robot', '--name', 'Robot', '--type', 'machine'),
    ]);
    assert.equal(got.code, 0, got.stderr);
    const shown = JSON.parse(got.stdout) as Tool;
    assert.equal(shown.name, 'Wiki');
    assert.equal(shown.auth_method, 'client_secret_basic');
    assert.equal('client_secret' in shown || got.stdout.includes(secret), false);
    assert.equal(listed.stdout.includes(secret), false);
    assert.equal(machine.type, 'machine');
    assert.ok(machine.client_secret);

    // An update changes only what it names: the redirect URIs and require_mfa stay.
    const updated = await ok<Tool>('tools', 'update', '--id', 'wiki', '--name', 'Team wiki', '--restricted');
    assert.equal(updated.name, 'Team wiki');
    assert.equal(updated.restricted, true);
    assert.equal(updated.require_mfa, true);
    assert.deepEqual(updated.redirect_uris, created.redirect_uris);
    assert.equal('client_secret' in updated, false, 'an edit keeps the secret');
    assert.equal((await ok<Tool>('tools', 'update', '--id', 'wiki', '--no-restricted')).restricted, false);

    const rotated = await ok<Record<string, string>>('tools', 'rotate-secret', '--id', 'wiki');
    assert.deepEqual(Object.keys(rotated), ['client_secret']);
    assert.notEqual(rotated.client_secret, secret);

    await Promise.all([
      fails(1, /^error: A tool with the id wiki exists\.$/m, 'tools', 'create', '--id', 'wiki', '--name', 'Again', '--redirect-uri', 'https://x.example.test/cb'),
      fails(1, /^error: redirect_uris[.\d]*: .*fragment/m, 'tools', 'create', '--id', 'bad', '--name', 'Bad', '--redirect-uri', 'https://a.example.test/cb#x'),
      fails(1, /^error: id: must be 2–63 characters/m, 'tools', 'create', '--id', 'Bad Id', '--name', 'Bad'),
      fails(1, /^error: type: /m, 'tools', 'create', '--id', 'bad', '--name', 'Bad', '--type', 'mainframe'),
      fails(1, /^error: tool not found: no tool has the id nope$/m, 'tools', 'get', '--id', 'nope'),
      fails(2, /^error: tools update needs at least one field to change$/m, 'tools', 'update', '--id', 'wiki'),
      fails(2, /^error: tools get needs --id$/m, 'tools', 'get'),
    ]);

    assert.deepEqual(await ok('tools', 'delete', '--id', 'robot'), { id: 'robot', deleted: true });
    await fails(1, /tool not found/, 'tools', 'get', '--id', 'robot');
    const ids = (await ok<Page<Tool>>('tools', 'list')).data.map((t) => t.id);
    assert.ok(ids.includes('wiki') && !ids.includes('robot'));
    const actions = (await audit('--target-id', 'wiki')).data.map((e) => `${e.action}:${e.actor.type}`);
    assert.deepEqual(actions, ['tool.secret_rotated:cli', 'tool.updated:cli', 'tool.updated:cli', 'tool.created:cli']);
  });

  it('permissions: set, change, list by user and by tool, revoke; bad level, user or tool refused', async () => {
    const [dana] = await Promise.all([
      ok<User>('users', 'create', '--email', 'dana@perm.test', '--password', PASSWORD),
      ok<Tool>('tools', 'create', '--id', 'crm', '--name', 'CRM', '--type', 'machine'),
    ]);
    const granted = await ok<Permission>('permissions', 'set', '--user', 'dana@perm.test', '--tool', 'crm', '--level', 'read');
    assert.deepEqual([granted.user_id, granted.tool, granted.level], [dana.id, 'crm', 'read']);
    assert.equal((await ok<Permission>('permissions', 'set', '--user', 'dana@perm.test', '--tool', 'crm', '--level', 'write')).level, 'write');

    const [byUser, byTool, full] = await Promise.all([
      ok<Page<Permission>>('permissions', 'list', '--user', 'dana@perm.test'),
      ok<Page<Permission>>('permissions', 'list', '--tool', 'crm'),
      ok<User>('users', 'get', '--id', dana.id),
    ]);
    assert.deepEqual(byUser.data.map((p) => `${p.tool}:${p.level}`), ['crm:write']);
    assert.deepEqual(byTool.data.map((p) => `${p.user_id}:${p.level}`), [`${dana.id}:write`]);
    assert.deepEqual(full.permissions!.map((p) => p.level), ['write']);

    await Promise.all([
      fails(1, /^error: level: Invalid option: expected one of "read"\|"write"\|"admin"$/m, 'permissions', 'set', '--user', 'dana@perm.test', '--tool', 'crm', '--level', 'owner'),
      fails(1, /^error: user not found: no user has the email ghost@perm\.test$/m, 'permissions', 'set', '--user', 'ghost@perm.test', '--tool', 'crm', '--level', 'read'),
      fails(1, /^error: tool not found: no tool has the id ghost$/m, 'permissions', 'set', '--user', 'dana@perm.test', '--tool', 'ghost', '--level', 'read'),
      fails(2, /^error: permissions list needs exactly one of --user, --tool$/m, 'permissions', 'list', '--user', 'dana@perm.test', '--tool', 'crm'),
      fails(2, /^error: permissions set needs --level$/m, 'permissions', 'set', '--user', 'dana@perm.test', '--tool', 'crm'),
    ]);

    assert.deepEqual(await ok('permissions', 'revoke', '--user', 'dana@perm.test', '--tool', 'crm'), { user_id: dana.id, tool: 'crm', revoked: true });
    assert.deepEqual((await ok<Page<Permission>>('permissions', 'list', '--tool', 'crm')).data, []);
    await fails(1, /^error: permission not found: dana@perm\.test has no permission in crm$/m, 'permissions', 'revoke', '--user', 'dana@perm.test', '--tool', 'crm');
    const events = (await audit('--target-id', dana.id)).data;
    assert.deepEqual(events.map((e) => e.action), ['permission.revoked', 'permission.changed', 'permission.granted', 'user.created']);
    assert.deepEqual(events[1]!.details, { tool: 'crm', from: 'read', to: 'write' });
    assert.ok(events.every((e) => e.actor.type === 'cli' && e.actor.id === null));
  });

  it('api-keys: the key is printed once, listings never hold it or a hash, revoke stamps revoked_at', async () => {
    const [erin] = await Promise.all([
      ok<User>('users', 'create', '--email', 'erin@keys.test', '--password', PASSWORD),
      ok<Tool>('tools', 'create', '--id', 'reports', '--name', 'Reports', '--type', 'machine'),
    ]);
    const created = await ok<ApiKey>('api-keys', 'create', '--user', 'erin@keys.test', '--name', 'ci', '--tool', 'reports', '--read-only', '--expires-in-days', '30');
    const key = created.key!;
    assert.match(key, /^ghk_[0-9A-Za-z]{49}$/);
    assert.ok(key.startsWith(created.prefix));
    assert.equal(created.user_id, erin.id);
    assert.equal(created.tool, 'reports');
    assert.equal(created.read_only, true);
    const days = (Date.parse(created.expires_at!) - Date.now()) / 86_400_000;
    assert.ok(days > 29.9 && days <= 30, `expires in ${days} days`);
    assert.equal(created.revoked_at, null);

    const listing = await cli('api-keys', 'list', '--user', 'erin@keys.test');
    assert.equal(listing.code, 0, listing.stderr);
    assert.equal(listing.stdout.includes(key), false);
    assert.doesNotMatch(listing.stdout, /hash|"key"/i);
    const listed = (JSON.parse(listing.stdout) as Page<ApiKey>).data;
    assert.deepEqual(listed.map((k) => k.id), [created.id]);
    assert.deepEqual(Object.keys(listed[0]!).sort(), ['created_at', 'expires_at', 'id', 'last_used_at', 'name', 'prefix', 'read_only', 'revoked_at', 'tool', 'user_id']);

    await Promise.all([
      fails(1, /^error: user not found: no user has the email ghost@keys\.test$/m, 'api-keys', 'create', '--user', 'ghost@keys.test', '--name', 'x'),
      fails(1, /^error: tool: no tool has the id ghost$/m, 'api-keys', 'create', '--user', 'erin@keys.test', '--name', 'x', '--tool', 'ghost'),
      fails(1, /^error: expires_in_days: /m, 'api-keys', 'create', '--user', 'erin@keys.test', '--name', 'x', '--expires-in-days', 'soon'),
      fails(1, /^error: expires_in_days: /m, 'api-keys', 'create', '--user', 'erin@keys.test', '--name', 'x', '--expires-in-days', '0'),
      fails(1, /^error: API key not found: no API key has the id nope$/m, 'api-keys', 'revoke', '--id', 'nope'),
      fails(2, /^error: api-keys create needs --name$/m, 'api-keys', 'create', '--user', 'erin@keys.test'),
    ]);

    const revoked = await ok<ApiKey>('api-keys', 'revoke', '--id', created.id);
    assert.ok(revoked.revoked_at && Math.abs(Date.parse(revoked.revoked_at) - Date.now()) < 60_000);
    assert.equal('key' in revoked, false);
    assert.equal((await ok<Page<ApiKey>>('api-keys', 'list', '--user', 'erin@keys.test')).data[0]!.revoked_at, revoked.revoked_at);
    const events = (await audit('--target-id', created.id)).data;
    assert.deepEqual(events.map((e) => `${e.action}:${e.actor.type}`), ['api_key.revoked:cli', 'api_key.created:cli']);
    assert.deepEqual(events[1]!.details, { owner: erin.id, name: 'ci' });
  });

  it('an API key made by the CLI is accepted by a running server until the CLI revokes it', async () => {
    await ok<User>('users', 'create', '--email', 'frank@keys.test', '--password', PASSWORD, '--name', 'Frank');
    const { key, id } = await ok<ApiKey>('api-keys', 'create', '--user', 'frank@keys.test', '--name', 'laptop');
    const server = await startTestServer(env.DATABASE_URL!);
    try {
      const me = () => fetch(`${server.issuer}/api/me`, { headers: { authorization: `Bearer ${key}` } });
      const before = await me();
      assert.equal(before.status, 200);
      assert.equal(((await before.json()) as { email: string }).email, 'frank@keys.test');
      await ok('api-keys', 'revoke', '--id', id);
      assert.equal((await me()).status, 401, 'refused at once after the CLI revoked it');
    } finally {
      await server.stop();
    }
  });

  it('audit list: filters by action and time, pages with the cursor, refuses a bad time; usage errors exit 2', async () => {
    const [roleChanges, all, future, past] = await Promise.all([
      audit('--action', 'user.role_changed'),
      audit('--limit', '200'),
      audit('--since', new Date(Date.now() + 3_600_000).toISOString()),
      audit('--until', '2000-01-01T00:00:00Z'),
    ]);
    assert.ok(roleChanges.data.length >= 1);
    assert.ok(roleChanges.data.every((e) => e.action === 'user.role_changed'));
    assert.deepEqual(future.data, []);
    assert.deepEqual(past.data, []);
    assert.ok(all.data.length > 3);
    const ids = all.data.map((e) => e.id);
    assert.deepEqual([...ids].sort().reverse(), ids, 'newest first');

    const first = await audit('--limit', '2');
    assert.deepEqual(first.data.map((e) => e.id), ids.slice(0, 2));
    const second = await audit('--limit', '2', '--cursor', first.next_cursor!);
    assert.deepEqual(second.data.map((e) => e.id), ids.slice(2, 4));

    await Promise.all([
      fails(1, /^error: since: /m, 'audit', 'list', '--since', 'yesterday'),
      fails(1, /^error: limit: /m, 'audit', 'list', '--limit', '201'),
      fails(2, /^error: Unknown option '--bogus'[\s\S]*usage: gatehouse/m, 'users', 'list', '--bogus'),
      fails(2, /^error: users get needs exactly one of --id, --email$/m, 'users', 'get', '--id', 'x', '--email', 'y@example.com'),
      fails(2, /^error: Option '--id <value>' argument missing/m, 'tools', 'delete', '--id'),
      fails(2, /^error: unknown command: tools frob/m, 'tools', 'frob'),
    ]);
  });
});
