import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { crc32, gzipSync } from 'node:zlib';
import type * as oidc from 'openid-client';
import sharp from 'sharp';
import { authenticate } from '../../src/accounts/users.js';
import type { UserRecord } from '../../src/store/port.js';
import { Authenticator } from '../helpers/authenticator.js';
import { backends } from '../helpers/backends.js';
import { freePort } from '../helpers/free-port.js';
import { startTestServer, TEST_PASSWORD, type TestServer } from '../helpers/gatehouse.js';
import { discover, pkceAuthorizationUrl } from '../helpers/relying-party.js';
import { startSmtpServer, type TestSmtpServer } from '../helpers/smtp-server.js';
import { startUpstreamOidc, type UpstreamOidc } from '../helpers/upstream-oidc.js';
import { findForm, UserAgent, type Page } from '../helpers/user-agent.js';

/*
 * Every hosted form (sign-in, consent, second factor, upstream sign-in, sign-up, mailed
 * links, the account console and oidc-provider's logout confirmation), reached the way a
 * browser reaches it, then sent malformed variants of its own submission. Whatever the
 * input, the answer is a 4xx (or the form's ordinary answer to merely wrong input, named
 * per route below), never a 5xx, never a stack trace, and the server stays healthy.
 *
 * SQLite only: what is under test is body parsing, CSRF and interaction checks and the
 * handlers' input validation, all of which run before and independently of the store
 * (the store contract suites cover both backends). The store is still checked at the end
 * for records the fuzzing must not have left behind.
 */

const REDIRECT = 'https://app.example.test/callback';
/** The hosted forms' body limit (src/http/form-body.ts). */
const FORM_LIMIT = 16 * 1024;
const MB = 1024 * 1024;

type Pair = [key: string, value: string];
const enc = encodeURIComponent;

/** A form reached in a browser: its absolute action, hidden fields and the token's name. */
interface Reach {
  agent: UserAgent;
  action: string;
  hidden: Record<string, string>;
  token: 'csrf' | 'xsrf';
}

/** What gets a request past the front door: interaction cookie, account session, only the CSRF pair, or oidc-provider's own checks. */
type Gate = 'interaction' | 'session' | 'csrf' | 'provider';

interface Target {
  route: string;
  gate: Gate;
  /** The fields a person fills in (or a hidden field worth fuzzing); other hidden fields are sent as the page gave them. */
  fields: string[];
  /** Besides a 4xx, what a well-formed submission with wrong or odd values legitimately gets. */
  accepts?: { statuses: number[]; why: string };
  multipart?: boolean;
  /** A successful submission uses up the page's state: the form is reached again for the next case. */
  consumes?: boolean;
  /** Where an id sits in the action, to try garbage there. */
  param?: RegExp;
  open(): Promise<Reach>;
}

interface Sent {
  body?: Buffer | ReadableStream<Uint8Array>;
  headers?: Record<string, string>;
  /** Send from another browser than the one that opened the form. */
  agent?: UserAgent;
  url?: string;
}

/** 'handler': the request reaches the route's own logic, which must answer 4xx or one of the target's `accepts`. */
type Expect = number[] | 'handler';

interface Kind {
  name: string;
  expect: Expect | ((t: Target) => Expect);
  applies?: (t: Target) => boolean;
  build(r: Reach, t: Target): Sent;
}

// ---------------------------------------------------------------- payload building blocks

const FORM_TYPE = { 'content-type': 'application/x-www-form-urlencoded' };
const body = (pairs: Pair[]) => Buffer.from(pairs.map(([k, v]) => `${k}=${v}`).join('&'));
/** The page's hidden fields (the token among them), less the fields under test. */
const hiddenPairs = (r: Reach, t: Target): Pair[] => Object.entries(r.hidden).filter(([k]) => !t.fields.includes(k)).map(([k, v]) => [enc(k), enc(v)]);
/** Hidden fields plus every field under test set to (already encoded) `value`. */
const every = (value: string) => (r: Reach, t: Target): Sent => ({
  body: body([...hiddenPairs(r, t), ...t.fields.map((f): Pair => [enc(f), value])]),
  headers: FORM_TYPE,
});
const withoutToken = (r: Reach, t: Target): Pair[] => hiddenPairs(r, t).filter(([k]) => k !== r.token);
const xFields = (t: Target): Pair[] => t.fields.map((f) => [enc(f), 'x']);

/** Field values that are hostile as text once decoded (or fail to decode); each goes into every field. */
const HOSTILE_VALUES: Array<[name: string, encoded: string]> = [
  ['NUL bytes', 'a%00b%00'],
  ['bidi override (U+202E)', '%E2%80%AEmoc.elpmaxe%40evil'],
  ['unpaired surrogates (CESU-8 %ED%A0%80)', '%ED%A0%80x%ED%B0%80'],
  ['overlong UTF-8 (%C0%AF)', '%C0%AF%C0%AE%C0%AE%E0%80%AF'],
  ['broken percent escapes (%zz, lone %)', '%zz%%E2%80%'],
  ['zero-width space, BOM, emoji, stacked combining marks', '%E2%80%8B%EF%BB%BF%F0%9F%98%80e%CC%81%CC%81%CC%81'],
  ['CR/LF header injection', '%0D%0ASet-Cookie%3A%20injected%3D1%0D%0ALocation%3A%20https%3A%2F%2Fevil.example'],
  ['HTML and script', enc('"><script>alert(1)</script><img src=x onerror=alert(2)>')],
  ['prototype names as values', '__proto__'],
  ['Unicode whitespace only', '%20%09%0A%0B%0C%0D%C2%A0%E3%80%80'],
  ['digits in other scripts (Arabic-Indic, fullwidth)', '%D9%A1%D9%A2%D9%A3%EF%BC%94%EF%BC%95%EF%BC%96'],
  ['a valid-looking address with a NUL', 'someone%40example.com%00'],
];

const FORM_KINDS: Kind[] = [
  // Reach the handler with a valid token: the handler's own validation has to cope.
  { name: 'fields missing', expect: 'handler', build: (r, t) => ({ body: body(hiddenPairs(r, t)), headers: FORM_TYPE }) },
  { name: 'fields empty', expect: 'handler', build: every('') },
  {
    name: 'every field repeated (email=a&email=b)',
    expect: 'handler',
    build: (r, t) => ({ body: body([...hiddenPairs(r, t), ...t.fields.flatMap((f): Pair[] => [[enc(f), 'first'], [enc(f), 'second']])]), headers: FORM_TYPE }),
  },
  {
    name: 'token repeated, the valid one last',
    expect: 'handler',
    build: (r, t) => ({ body: body([[r.token, 'bogus'], ...hiddenPairs(r, t), ...xFields(t)]), headers: FORM_TYPE }),
  },
  {
    name: 'array and object brackets (f[]=, f[a][b]=, f%5B%5D=)',
    expect: 'handler',
    build: (r, t) => ({
      body: body([...hiddenPairs(r, t), ...t.fields.flatMap((f): Pair[] => [[`${f}[]`, 'x'], [`${f}[]`, 'y'], [`${f}[a][b]`, 'z'], [`${f}%5B%5D`, 'w'], [`${f}[__proto__]`, 'p']])]),
      headers: FORM_TYPE,
    }),
  },
  {
    name: 'prototype-polluting keys (__proto__, constructor[prototype], toString)',
    expect: 'handler',
    build: (r, t) => ({
      body: body([
        ['__proto__', 'x'], ['__proto__[polluted]', 'yes'], ['constructor[prototype][polluted]', 'yes'], ['constructor', 'x'],
        ['prototype', 'x'], ['toString', 'x'], ['valueOf', 'x'], ['hasOwnProperty', 'x'], ...hiddenPairs(r, t), ...xFields(t),
      ]),
      headers: FORM_TYPE,
    }),
  },
  ...HOSTILE_VALUES.map(([name, value]): Kind => ({ name, expect: 'handler', build: every(value) })),
  {
    name: 'raw bytes that are not UTF-8 (0xFF 0xFE 0xC0)',
    expect: 'handler',
    build: (r, t) => ({
      body: Buffer.concat([body(hiddenPairs(r, t)), ...t.fields.map((f) => Buffer.concat([Buffer.from(`&${enc(f)}=a`), Buffer.from([0xff, 0xfe, 0xc0, 0x80, 0xed, 0xa0, 0x80])]))]),
      headers: FORM_TYPE,
    }),
  },
  {
    name: 'values filling the body to just under the 16 KB limit',
    expect: 'handler',
    build: (r, t) => {
      const size = Math.floor((FORM_LIMIT - 1500) / Math.max(1, t.fields.length));
      return { body: body([...hiddenPairs(r, t), ...(t.fields.length ? t.fields : ['padding']).map((f): Pair => [enc(f), 'a'.repeat(size)])]), headers: FORM_TYPE };
    },
  },
  {
    name: '1,500 fields',
    expect: 'handler',
    build: (r, t) => ({ body: body([...hiddenPairs(r, t), ...Array.from({ length: 1500 }, (_, i): Pair => [`f${i}`, '1']), ...xFields(t)]), headers: FORM_TYPE }),
  },
  {
    name: 'pairs without "=", empty keys, NUL and % in keys',
    expect: 'handler',
    build: (r, t) => ({ body: Buffer.from(`&&=&==x&%00=1&%=2&%zz=3&${body(hiddenPairs(r, t)).toString()}&${t.fields.map((f) => `${enc(f)}&${enc(f)}==`).join('&')}`), headers: FORM_TYPE }),
  },
  {
    name: 'latin-1 charset declared, latin-1 bytes sent',
    expect: 'handler',
    build: (r, t) => ({
      body: Buffer.concat([body(hiddenPairs(r, t)), ...t.fields.map((f) => Buffer.concat([Buffer.from(`&${enc(f)}=caf`), Buffer.from([0xe9])]))]),
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=iso-8859-1' },
    }),
  },
  { name: 'upper-case content type with a charset', expect: 'handler', build: (r, t) => ({ ...every('x')(r, t), headers: { 'content-type': 'APPLICATION/X-WWW-FORM-URLENCODED; Charset=UTF-8' } }) },
  { name: 'Origin: null (as browsers send under no-referrer)', expect: 'handler', build: (r, t) => ({ ...every('x')(r, t), headers: { ...FORM_TYPE, origin: 'null' } }) },

  // Refused before the handler, whatever the fields say.
  { name: 'JSON body', expect: [415], build: (r, t) => ({ body: Buffer.from(JSON.stringify({ ...r.hidden, ...Object.fromEntries(t.fields.map((f) => [f, 'x'])) })), headers: { 'content-type': 'application/json' } }) },
  { name: 'text/plain body', expect: [415], build: (r, t) => ({ body: every('x')(r, t).body, headers: { 'content-type': 'text/plain' } }) },
  {
    name: 'multipart body where a url-encoded form is expected',
    expect: [415],
    build: (r, t) => ({ body: multipart([...Object.entries(r.hidden), ...t.fields.map((f): [string, string] => [f, 'x'])].map(([k, v]) => field(k, v))), headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` } }),
  },
  { name: 'no Content-Type', expect: [415], build: (r, t) => ({ body: every('x')(r, t).body, headers: {} }) },
  { name: 'Content-Type that is not a media type', expect: [415], build: (r, t) => ({ body: every('x')(r, t).body, headers: { 'content-type': 'x-www-form-urlencoded' } }) },
  // Stray separators in the parameters do not change the media type: read as a form.
  { name: 'Content-Type with empty parameters (;;;=;)', expect: 'handler', build: (r, t) => ({ body: every('x')(r, t).body, headers: { 'content-type': 'application/x-www-form-urlencoded;;;=;' } }) },
  { name: 'empty body', expect: [403], build: () => ({ body: Buffer.alloc(0), headers: FORM_TYPE }) },
  {
    name: '1 MB field, Content-Length over the limit',
    expect: [413],
    build: (r, t) => ({ body: Buffer.concat([body(hiddenPairs(r, t)), Buffer.from(`&${enc(t.fields[0] ?? 'padding')}=`), Buffer.alloc(MB, 'a')]), headers: FORM_TYPE }),
  },
  {
    name: '1 MB field, chunked without Content-Length',
    expect: [413],
    build: (r, t) => ({ body: chunked(Buffer.concat([body(hiddenPairs(r, t)), Buffer.from(`&${enc(t.fields[0] ?? 'padding')}=`), Buffer.alloc(MB, 'a')])), headers: FORM_TYPE }),
  },
  // Bodies are read as sent: a compressed one is not a readable form, so it has no token.
  { name: 'gzip Content-Encoding', expect: [403, 415], build: (r, t) => ({ body: gzipSync(every('x')(r, t).body as Buffer), headers: { ...FORM_TYPE, 'content-encoding': 'gzip' } }) },
  { name: 'no CSRF token', expect: [403], build: (r, t) => ({ body: body([...withoutToken(r, t), ...xFields(t)]), headers: FORM_TYPE }) },
  { name: 'wrong CSRF token', expect: [403], build: (r, t) => ({ body: body([[r.token, enc(`${r.hidden[r.token]}x`)], ...withoutToken(r, t), ...xFields(t)]), headers: FORM_TYPE }) },
  { name: "another browser's CSRF token", expect: [403], build: (r, t) => ({ body: body([[r.token, enc(strangersToken)], ...withoutToken(r, t), ...xFields(t)]), headers: FORM_TYPE }) },
  { name: 'CSRF token as an array (csrf[]=)', expect: [403], build: (r, t) => ({ body: body([[`${r.token}[]`, enc(r.hidden[r.token]!)], ...withoutToken(r, t), ...xFields(t)]), headers: FORM_TYPE }) },
  { name: 'token repeated, the valid one first', expect: [403], build: (r, t) => ({ body: body([...hiddenPairs(r, t), ...xFields(t), [r.token, 'bogus']]), headers: FORM_TYPE }) },
  { name: 'foreign Origin', expect: [403], build: (r, t) => ({ ...every('x')(r, t), headers: { ...FORM_TYPE, origin: 'https://evil.example' } }) },
];

/** Refusals that depend on who is asking rather than on the body. */
const CONTEXT_KINDS: Kind[] = [
  {
    name: 'another browser, without the cookies',
    expect: (t) => ({ interaction: [400, 403], session: [401], csrf: [403], provider: 'handler' as const })[t.gate],
    build: (r, t) => ({ ...(t.multipart ? avatarWith([field('csrf', r.hidden.csrf!)]) : every('x')(r, t)), agent: new UserAgent() }),
  },
  {
    name: "another browser's own interaction and token, on this interaction's URL",
    expect: [400, 403],
    applies: (t) => t.gate === 'interaction',
    build: (_r, t) => ({ body: body([['csrf', enc(strangersToken)], ...xFields(t)]), headers: FORM_TYPE, agent: strangersAgent }),
  },
  ...['%00', '%E2%80%AE', 'x'.repeat(4000), '..%2F..%2Fhealthz', '%zz', '%ED%A0%80'].map((garbage): Kind => ({
    name: `garbage id in the path (${garbage.slice(0, 12)})`,
    expect: [400, 403, 404],
    applies: (t) => t.param !== undefined,
    build: (r, t) => ({ ...every('x')(r, t), url: r.action.replace(t.param!, (m) => m.replace(/[^/]+(\/?)$/, `${garbage}$1`)) }),
  })),
];

// ---------------------------------------------------------------- multipart (the avatar upload)

const BOUNDARY = '----gatehouse-fuzz-boundary';
interface Part { headers: string[]; data: Buffer | string }
const field = (name: string, value: string): Part => ({ headers: [`Content-Disposition: form-data; name="${name}"`], data: value });
const file = (data: Buffer | string, filename = 'me.png', name = 'avatar', type = 'image/png'): Part => ({
  headers: [`Content-Disposition: form-data; name="${name}"; filename="${filename}"`, `Content-Type: ${type}`],
  data,
});
function multipart(parts: Part[], { boundary = BOUNDARY, close = true } = {}): Buffer {
  const chunks = parts.flatMap((p) => [Buffer.from(`--${boundary}\r\n${p.headers.join('\r\n')}\r\n\r\n`), Buffer.from(p.data), Buffer.from('\r\n')]);
  return Buffer.concat([...chunks, Buffer.from(close ? `--${boundary}--\r\n` : '')]);
}
const MULTIPART_TYPE = { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` };
const avatarWith = (parts: Part[]): Sent => ({ body: multipart(parts), headers: MULTIPART_TYPE });

/** A PNG whose header claims 100,000 × 100,000 pixels: tiny file, enormous bitmap. */
function pixelBombPng(): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([Buffer.from(type), data])));
    return Buffer.concat([len, Buffer.from(type), data, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(100_000, 0);
  ihdr.writeUInt32BE(100_000, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', Buffer.from([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])), chunk('IEND', Buffer.alloc(0))]);
}

const token = (r: Reach) => field('csrf', r.hidden.csrf!);
const MULTIPART_KINDS: Kind[] = [
  { name: 'no file part', expect: 'handler', build: (r) => avatarWith([token(r)]) },
  { name: 'empty file', expect: 'handler', build: (r) => avatarWith([token(r), file('')]) },
  { name: 'not an image', expect: 'handler', build: (r) => avatarWith([token(r), file('definitely not an image')]) },
  { name: 'truncated PNG', expect: 'handler', build: (r) => avatarWith([token(r), file(pixelBombPng().subarray(0, 20))]) },
  { name: 'PNG declaring 100,000 × 100,000 pixels', expect: 'handler', build: (r) => avatarWith([token(r), file(pixelBombPng())]) },
  { name: 'SVG with a script', expect: 'handler', build: (r) => avatarWith([token(r), file('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>', 'x.svg', 'avatar', 'image/svg+xml')]) },
  { name: 'file over 2 MB', expect: 'handler', build: (r) => avatarWith([token(r), file(Buffer.alloc(2 * MB + 10, 1))]) },
  { name: 'two files', expect: 'handler', build: (r) => avatarWith([token(r), file('one'), file('two', 'b.png', 'other')]) },
  { name: '30 extra fields after the token (over the field limit)', expect: 'handler', build: (r) => avatarWith([token(r), ...Array.from({ length: 30 }, (_, i) => field(`f${i}`, 'x')), file('x')]) },
  { name: 'a field over the 4 KB field limit', expect: 'handler', build: (r) => avatarWith([token(r), field('name', 'a'.repeat(64 * 1024)), file('x')]) },
  { name: 'prototype field names (__proto__, constructor)', expect: 'handler', build: (r) => avatarWith([field('__proto__', 'x'), field('constructor', 'x'), field('toString', 'x'), token(r), file('x', 'x.png', '__proto__')]) },
  {
    name: 'NUL, bidi and broken UTF-8 in names and filename',
    expect: 'handler',
    build: (r) => avatarWith([token(r), { headers: [Buffer.from('Content-Disposition: form-data; name="a\u0000\u202eb"; filename="\u202egnp.exe\u0000.png"').toString('latin1'), 'Content-Type: image/png'], data: Buffer.from([0xff, 0xed, 0xa0, 0x80]) }]),
  },
  { name: "RFC 5987 filename* with a broken encoding", expect: 'handler', build: (r) => avatarWith([token(r), { headers: ["Content-Disposition: form-data; name=\"avatar\"; filename*=UTF-8''%ED%A0%80%zz%C0%AF"], data: 'x' }]) },
  { name: 'part without Content-Disposition', expect: 'handler', build: (r) => avatarWith([token(r), { headers: ['Content-Type: image/png'], data: 'x' }]) },
  { name: 'token repeated, the valid one last', expect: 'handler', build: (r) => avatarWith([field('csrf', 'bogus'), token(r), file('x')]) },
  { name: '3 MB file, chunked without Content-Length', expect: 'handler', build: (r) => ({ body: chunked(multipart([token(r), file(Buffer.alloc(3 * MB, 1))])), headers: MULTIPART_TYPE }) },
  { name: 'Origin: null (as browsers send under no-referrer)', expect: 'handler', build: (r) => ({ ...avatarWith([token(r), file('x')]), headers: { ...MULTIPART_TYPE, origin: 'null' } }) },

  { name: 'token after 10 other fields (dropped by the field limit)', expect: [403], build: (r) => avatarWith([...Array.from({ length: 10 }, (_, i) => field(`f${i}`, 'x')), token(r), file('x')]) },
  { name: 'token repeated, the valid one first', expect: [403], build: (r) => avatarWith([token(r), field('csrf', 'bogus'), file('x')]) },
  { name: 'no CSRF token', expect: [403], build: () => avatarWith([file('x')]) },
  { name: 'wrong CSRF token', expect: [403], build: (r) => avatarWith([field('csrf', `${r.hidden.csrf}x`), file('x')]) },
  { name: "another browser's CSRF token", expect: [403], build: () => avatarWith([field('csrf', strangersToken), file('x')]) },
  { name: 'foreign Origin', expect: [403], build: (r) => ({ ...avatarWith([token(r), file('x')]), headers: { ...MULTIPART_TYPE, origin: 'https://evil.example' } }) },
  { name: 'multipart without a boundary', expect: [400, 415], build: (r) => ({ body: multipart([token(r), file('x')]), headers: { 'content-type': 'multipart/form-data' } }) },
  { name: 'multipart with an empty boundary', expect: [400, 415], build: (r) => ({ body: multipart([token(r), file('x')]), headers: { 'content-type': 'multipart/form-data; boundary=' } }) },
  { name: 'a boundary that never appears', expect: [400, 403], build: (r) => ({ body: multipart([token(r), file('x')], { boundary: 'other' }), headers: MULTIPART_TYPE }) },
  { name: 'body cut off before the closing boundary', expect: [400, 403], build: (r) => ({ body: multipart([token(r), file('x')], { close: false }).subarray(0, -3), headers: MULTIPART_TYPE }) },
  { name: 'part header over 16 KB', expect: [400, 403], build: (r) => avatarWith([{ headers: [`Content-Disposition: form-data; name="csrf"`, `X-Padding: ${'a'.repeat(20_000)}`], data: r.hidden.csrf! }, file('x')]) },
  { name: 'empty body', expect: [400, 403], build: () => ({ body: Buffer.alloc(0), headers: MULTIPART_TYPE }) },
  { name: 'url-encoded body where an upload is expected', expect: [415], build: (r) => ({ body: body([['csrf', enc(r.hidden.csrf!)], ['avatar', 'x']]), headers: FORM_TYPE }) },
  { name: 'JSON body', expect: [415], build: (r) => ({ body: Buffer.from(JSON.stringify({ csrf: r.hidden.csrf, avatar: 'x' })), headers: { 'content-type': 'application/json' } }) },
  { name: 'no Content-Type', expect: [415], build: (r) => ({ body: multipart([token(r), file('x')]), headers: {} }) },
  { name: 'gzip Content-Encoding', expect: [400, 403, 415], build: (r) => ({ body: gzipSync(multipart([token(r), file('x')])), headers: { ...MULTIPART_TYPE, 'content-encoding': 'gzip' } }) },
];

function chunked(data: Buffer): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= data.length) return controller.close();
      controller.enqueue(new Uint8Array(data.subarray(offset, offset + 64 * 1024)));
      offset += 64 * 1024;
    },
  });
}

// ---------------------------------------------------------------- the server and the ways in

let server: TestServer;
let smtp: TestSmtpServer;
let upstream: UpstreamOidc;
let rp: oidc.Configuration;
let mfaRp: oidc.Configuration;
let strangersAgent: UserAgent;
let strangersToken: string;
let consoleUser: UserRecord;
let consoleAgent: UserAgent;
let totpUser: UserRecord;
let totpAgent: UserAgent;
let consentUser: UserRecord;
let resetUser: UserRecord;
let magicUser: UserRecord;
/** Every account this suite made on purpose; any other is fuzz that got through. */
const madeOnPurpose = new Set<string>();
let seq = 0;

const once = <T>(make: () => Promise<T>) => {
  let value: Promise<T> | undefined;
  return () => (value ??= make());
};

function reach(agent: UserAgent, page: Page, actionPart: string): Reach {
  const form = findForm(page.html, actionPart);
  const name = 'xsrf' in form.hidden ? 'xsrf' : 'csrf';
  assert.ok(form.hidden[name], `the ${actionPart} form carries a token`);
  return { agent, action: new URL(form.action, page.url).toString(), hidden: form.hidden, token: name };
}

async function makeUser(email = `fuzz-${++seq}-${Date.now()}@example.com`): Promise<UserRecord> {
  madeOnPurpose.add(email);
  return server.createUser(email);
}

/** A sign-in page in a browser of its own, for the tool `config`. */
async function signInPage(config = rp, extra: Record<string, string> = {}, agent = new UserAgent()): Promise<{ agent: UserAgent; page: Page }> {
  const { url } = await pkceAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'openid email profile', ...extra });
  const page = await agent.open(url.toString(), REDIRECT);
  assert.match(page.html, /<h1>Sign in/, page.html.slice(0, 300));
  return { agent, page };
}

/** Signs `user` in to the account console; returns the browser at /account. */
async function consoleBrowser(user: UserRecord): Promise<UserAgent> {
  const agent = new UserAgent();
  const page = await agent.submit(await agent.open(`${server.issuer}/account`), '/login', { email: user.email, password: TEST_PASSWORD });
  assert.equal(page.url, `${server.issuer}/account`);
  return agent;
}

async function consoleForm(agent: UserAgent, path: string, actionPart: string): Promise<Reach> {
  return reach(agent, await agent.open(`${server.issuer}${path}`), actionPart);
}

const seenLinks = new Set<string>();
/** The link in a mail to `to` containing `part` that no earlier call returned. */
async function mailedLink(to: string, part: string): Promise<string> {
  const link = (await smtp.waitForMail((m) => m.to.includes(to) && m.text.includes(part) && !seenLinks.has(m.link()), 10_000)).link();
  seenLinks.add(link);
  return link;
}

/** Through "Continue with Google" for a new person whose verified address matches a local account: the "Account linked" page. */
async function linkedPage(): Promise<{ agent: UserAgent; page: Page }> {
  const subject = `g-${++seq}`;
  const local = await makeUser(`linked-${seq}@example.com`);
  upstream.accounts.set(subject, { email: local.email, email_verified: true });
  const { agent, page: login } = await signInPage();
  const button = /href="(\/interaction\/[^"]+\/upstream\/google)"/.exec(login.html);
  assert.ok(button, 'a "Continue with Google" button');
  const upstreamLogin = await agent.open(`${server.issuer}${button[1]}`, REDIRECT);
  let page = await agent.submit(upstreamLogin, '/interaction/', { login: subject, password: 'anything' }, REDIRECT);
  if (page.url.startsWith(upstream.issuer) && page.html.includes('value="consent"')) page = await agent.submit(page, '/interaction/', {}, REDIRECT);
  assert.match(page.html, /Account linked/);
  return { agent, page };
}

/** Signs in a new person at the tool that requires 2FA: the enrolment page, and the key it shows. */
async function enrolPage(): Promise<{ agent: UserAgent; page: Page; code: () => string }> {
  const user = await makeUser();
  const { agent, page: login } = await signInPage(mfaRp);
  const page = await agent.submit(login, '/login', { email: user.email, password: TEST_PASSWORD }, REDIRECT);
  const auth = new Authenticator(/id="totp-secret">([A-Z2-7]+)</.exec(page.html)![1]!);
  return { agent, page, code: () => auth.code() };
}

const registered = once(async () => {
  const agent = new UserAgent();
  const email = `registered-${Date.now()}@example.com`;
  madeOnPurpose.add(email);
  const page = await agent.submit(await agent.open(`${server.issuer}/account/register`), '/account/register', { email, name: 'Reg', password: TEST_PASSWORD });
  assert.equal(page.status, 200);
  return { agent, page, email };
});
/** The reset form behind a freshly mailed link. */
async function resetForm(): Promise<Reach> {
  const agent = new UserAgent();
  await agent.submit(await agent.open(`${server.issuer}/account/forgot-password`), '/account/forgot-password', { email: resetUser.email });
  return reach(agent, await agent.open(await mailedLink(resetUser.email, '/reset-password')), '/account/reset-password');
}
const INTERACTION_UID = /\/interaction\/[^/]+/;

// ---------------------------------------------------------------- every hosted form POST

const TARGETS: Target[] = [
  // src/interactions/router.ts
  {
    route: 'POST /interaction/:uid/login',
    gate: 'interaction',
    fields: ['email', 'password'],
    param: INTERACTION_UID,
    open: async () => {
      const { agent, page } = await signInPage();
      return reach(agent, page, '/login');
    },
  },
  {
    route: 'POST /interaction/:uid/magic-link',
    gate: 'interaction',
    fields: ['email'],
    accepts: { statuses: [200], why: '200 "check your email", the same answer for any address' },
    param: INTERACTION_UID,
    open: async () => {
      const { agent, page } = await signInPage();
      return reach(agent, await agent.open(`${page.url}/magic-link`), '/magic-link');
    },
  },
  {
    route: 'POST /interaction/:uid/magic',
    gate: 'interaction',
    fields: ['token'],
    param: INTERACTION_UID,
    open: async () => {
      const { agent, page } = await signInPage();
      const uid = new URL(page.url).pathname.split('/')[2]!;
      await agent.submit(await agent.open(`${page.url}/magic-link`), '/magic-link', { email: magicUser.email });
      return reach(agent, await agent.open(await mailedLink(magicUser.email, `/interaction/${uid}/magic`)), '/magic');
    },
  },
  {
    route: 'POST /interaction/:uid/confirm',
    gate: 'interaction',
    fields: [],
    accepts: { statuses: [303], why: '303 back to the tool: consent takes no fields' },
    consumes: true,
    param: INTERACTION_UID,
    open: async () => {
      const { agent, page } = await signInPage(rp, { prompt: 'consent' });
      const consent = await agent.submit(page, '/login', { email: consentUser.email, password: TEST_PASSWORD }, REDIRECT);
      return reach(agent, consent, '/confirm');
    },
  },
  {
    route: 'POST /interaction/:uid/abort',
    gate: 'interaction',
    fields: [],
    accepts: { statuses: [303], why: '303 back to the tool with access_denied: abort takes no fields' },
    consumes: true,
    param: INTERACTION_UID,
    open: async () => {
      const { agent, page } = await signInPage();
      return reach(agent, page, '/abort');
    },
  },
  // src/interactions/second-factor-router.ts
  {
    route: 'POST /interaction/:uid/second-factor',
    gate: 'interaction',
    fields: ['code'],
    param: INTERACTION_UID,
    open: async () => {
      const { agent, page } = await signInPage();
      const challenge = await agent.submit(page, '/login', { email: totpUser.email, password: TEST_PASSWORD }, REDIRECT);
      return reach(agent, challenge, '/second-factor');
    },
  },
  {
    route: 'POST /interaction/:uid/second-factor/enrol',
    gate: 'interaction',
    fields: ['code'],
    accepts: { statuses: [302], why: '302 back to the enrolment page with "code not valid"' },
    param: INTERACTION_UID,
    open: async () => {
      const { agent, page } = await enrolPage();
      return reach(agent, page, '/second-factor/enrol');
    },
  },
  {
    route: 'POST /interaction/:uid/second-factor/continue',
    gate: 'interaction',
    fields: [],
    accepts: { statuses: [303], why: '303 back to the tool: continuing takes no fields' },
    consumes: true,
    param: INTERACTION_UID,
    open: async () => {
      const { agent, page, code } = await enrolPage();
      const codes = await agent.submit(page, '/second-factor/enrol', { code: code() }, REDIRECT);
      return reach(agent, codes, '/second-factor/continue');
    },
  },
  // src/federation/router.ts
  {
    route: 'POST /interaction/:uid/upstream-complete',
    gate: 'interaction',
    fields: [],
    accepts: { statuses: [303], why: '303 back to the tool: continuing takes no fields' },
    consumes: true,
    param: INTERACTION_UID,
    open: async () => {
      const { agent, page } = await linkedPage();
      return reach(agent, page, '/upstream-complete');
    },
  },
  // src/accounts/router.ts
  {
    route: 'POST /account/register',
    gate: 'csrf',
    fields: ['email', 'name', 'password', 'interaction'],
    open: async () => {
      const agent = new UserAgent();
      return reach(agent, await agent.open(`${server.issuer}/account/register`), '/account/register');
    },
  },
  {
    route: 'POST /account/verify-email/resend',
    gate: 'csrf',
    fields: ['email', 'interaction'],
    accepts: { statuses: [200], why: '200 "check your email", the same answer for any address' },
    open: async () => {
      const { agent, page } = await registered();
      return reach(agent, page, '/account/verify-email/resend');
    },
  },
  {
    route: 'POST /account/verify-email',
    gate: 'csrf',
    fields: ['token'],
    open: async () => {
      const { agent, email } = await registered();
      return reach(agent, await agent.open(await mailedLink(email, '/verify-email')), '/account/verify-email');
    },
  },
  {
    route: 'POST /account/forgot-password',
    gate: 'csrf',
    fields: ['email', 'interaction'],
    accepts: { statuses: [200], why: '200 "check your email", the same answer for any address' },
    open: async () => {
      const agent = new UserAgent();
      return reach(agent, await agent.open(`${server.issuer}/account/forgot-password`), '/account/forgot-password');
    },
  },
  { route: 'POST /account/reset-password (fuzzed token)', gate: 'csrf', fields: ['token', 'password'], open: resetForm },
  {
    route: 'POST /account/reset-password (valid token, fuzzed password)',
    gate: 'csrf',
    fields: ['password'],
    // Odd Unicode is not a weak password: the bidi-override value passes the policy.
    accepts: { statuses: [200], why: '200 "password changed" for a password the policy accepts' },
    consumes: true,
    open: resetForm,
  },
  // src/accounts/console-router.ts
  {
    route: 'POST /account/profile',
    gate: 'session',
    fields: ['name', 'theme'],
    accepts: { statuses: [303], why: '303 "saved" for a name and theme the schema accepts' },
    open: () => consoleForm(consoleAgent, '/account', '/account/profile'),
  },
  { route: 'POST /account/avatar (multipart)', gate: 'session', fields: [], multipart: true, open: () => consoleForm(consoleAgent, '/account', '/account/avatar') },
  {
    route: 'POST /account/avatar/remove',
    gate: 'session',
    fields: [],
    accepts: { statuses: [303], why: '303 "saved": removal takes no fields' },
    open: async () => {
      // The form is offered only while there is a picture to remove.
      const { hidden } = await consoleForm(consoleAgent, '/account', '/account/avatar');
      const picture = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#336699' } }).png().toBuffer();
      const res = await consoleAgent.request(`${server.issuer}/account/avatar`, { method: 'POST', body: avatarWith([field('csrf', hidden.csrf!), file(picture)]).body, headers: MULTIPART_TYPE });
      assert.equal(res.status, 303);
      return consoleForm(consoleAgent, '/account', '/account/avatar/remove');
    },
  },
  {
    route: 'POST /account/identities/unlink',
    gate: 'session',
    fields: ['provider', 'subject'],
    open: async () => {
      const { agent, page } = await linkedPage();
      await agent.submit(page, '/upstream-complete', {}, REDIRECT);
      return consoleForm(agent, '/account', '/account/identities/unlink');
    },
  },
  {
    route: 'POST /account/verify-email/send',
    gate: 'session',
    fields: [],
    accepts: { statuses: [200], why: '200 "check your email": sending takes no fields' },
    open: () => consoleForm(consoleAgent, '/account', '/account/verify-email/send'),
  },
  { route: 'POST /account/password', gate: 'session', fields: ['current', 'password'], open: () => consoleForm(consoleAgent, '/account/password', '/account/password') },
  {
    route: 'POST /account/sessions/:id/sign-out',
    gate: 'session',
    fields: [],
    accepts: { statuses: [303], why: '303 back to the sessions list: signing one out takes no fields' },
    param: /\/sessions\/[^/]+\//,
    open: async () => {
      await consoleBrowser(consoleUser);
      return consoleForm(consoleAgent, '/account/sessions', '/sign-out');
    },
  },
  {
    route: 'POST /account/sessions/sign-out-others',
    gate: 'session',
    fields: [],
    accepts: { statuses: [303], why: '303 back to the sessions list: takes no fields' },
    open: async () => {
      await consoleBrowser(consoleUser);
      return consoleForm(consoleAgent, '/account/sessions', '/sign-out-others');
    },
  },
  {
    route: 'POST /account/keys',
    gate: 'session',
    fields: ['name', 'read_only', 'expires_in_days'],
    accepts: { statuses: [201], why: '201 a key, for a name of 1 to 100 characters' },
    open: () => consoleForm(consoleAgent, '/account/keys', '/account/keys'),
  },
  {
    route: 'POST /account/keys/:id/revoke',
    gate: 'session',
    fields: [],
    accepts: { statuses: [303], why: '303 back to the list: revoking takes no fields' },
    param: /\/keys\/[^/]+\//,
    open: async () => {
      const created = await consoleAgent.submit(await consoleAgent.open(`${server.issuer}/account/keys`), '/account/keys', { name: 'to revoke' });
      return reach(consoleAgent, created, '/revoke');
    },
  },
  {
    route: 'POST /account/2fa/start',
    gate: 'session',
    fields: [],
    accepts: { statuses: [200], why: '200 the QR code: starting takes no fields' },
    open: () => consoleForm(consoleAgent, '/account/2fa', '/account/2fa/start'),
  },
  { route: 'POST /account/2fa/confirm', gate: 'session', fields: ['code'], open: () => consoleForm(consoleAgent, '/account/2fa', '/account/2fa/confirm') },
  { route: 'POST /account/2fa/recovery-codes', gate: 'session', fields: ['code'], open: () => consoleForm(totpAgent, '/account/2fa', '/account/2fa/recovery-codes') },
  { route: 'POST /account/2fa/disable', gate: 'session', fields: ['code', 'password'], open: () => consoleForm(totpAgent, '/account/2fa', '/account/2fa/disable') },
  { route: 'POST /account/delete', gate: 'session', fields: ['password'], open: () => consoleForm(consoleAgent, '/account/delete', '/account/delete') },
  // oidc-provider's own form, rendered in our layout (src/oidc/provider.ts logoutSource)
  {
    route: 'POST /session/end/confirm',
    gate: 'provider',
    fields: ['logout'],
    accepts: { statuses: [200, 303], why: 'the signed-out page or the way back: the provider reads its own body' },
    consumes: true,
    open: async () => {
      const agent = new UserAgent();
      return reach(agent, await agent.open(`${server.issuer}/session/end`), '/session/end/confirm');
    },
  },
];

// ---------------------------------------------------------------- checks

/** What must never reach a browser: a stack frame, an error's name and message, or a path on the server. */
const LEAKS = [/\bat\s+\S+\s+\(?(?:file:|node:|\/)\S*:\d+:\d+/, /\b[A-Za-z]*Error: /, /node_modules/, new RegExp(process.cwd().replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))];

function problemWith(t: Target, kind: Kind, status: number, text: string): string | undefined {
  if (LEAKS.some((re) => re.test(text))) return `leaks internals: ${text.slice(0, 300)}`;
  if (text.includes('<script>alert(1)</script>')) return 'reflects markup unescaped';
  const expect = typeof kind.expect === 'function' ? kind.expect(t) : kind.expect;
  const handled = expect === 'handler' || t.gate === 'provider';
  const ok = handled ? (status >= 400 && status < 500) || (t.accepts?.statuses.includes(status) ?? false) : expect.includes(status);
  return ok ? undefined : `status ${status}, expected ${handled ? `4xx${t.accepts ? ` or ${t.accepts.statuses.join('/')}` : ''}` : expect.join('/')}`;
}

async function healthy(): Promise<void> {
  const res = await fetch(`${server.issuer}/healthz`);
  assert.equal(res.status, 200, 'GET /healthz');
  assert.equal((await fetch(`${server.issuer}/readyz`)).status, 200, 'GET /readyz');
}

async function fuzz(t: Target): Promise<string[]> {
  const kinds = [...(t.multipart ? MULTIPART_KINDS : FORM_KINDS), ...CONTEXT_KINDS].filter((k) => k.applies?.(t) ?? true);
  const problems: string[] = [];
  let current: Reach | undefined;
  for (const kind of kinds) {
    current ??= await t.open();
    const r = current;
    const sent = kind.build(r, t);
    const agent = sent.agent ?? r.agent;
    let status: number;
    let text: string;
    try {
      const res = await agent.request(sent.url ?? r.action, {
        method: 'POST',
        body: sent.body,
        headers: { origin: new URL(server.issuer).origin, ...sent.headers },
        signal: AbortSignal.timeout(15_000),
        ...(sent.body instanceof ReadableStream ? { duplex: 'half' } : {}),
      } as RequestInit);
      status = res.status;
      text = await res.text();
    } catch (err) {
      problems.push(`${kind.name}: no answer (${(err as Error).message}: ${String((err as { cause?: unknown }).cause)})`);
      continue;
    }
    const problem = problemWith(t, kind, status, text);
    if (problem) problems.push(`${kind.name}: ${problem}`);
    if (t.consumes && status < 400) current = undefined;
  }
  return problems;
}

// ---------------------------------------------------------------- the suite

describe('hosted forms under malformed input (SQLite)', function () {
  this.timeout(60_000);

  before(async function () {
    this.timeout(60_000);
    smtp = await startSmtpServer();
    const port = await freePort();
    upstream = await startUpstreamOidc(`http://127.0.0.1:${port}/upstream/google/callback`);
    server = await startTestServer(await backends[0]!.freshDatabaseUrl(), {
      PORT: String(port),
      ISSUER: `http://127.0.0.1:${port}`,
      SMTP_URL: smtp.url,
      GOOGLE_CLIENT_ID: upstream.clientId,
      GOOGLE_CLIENT_SECRET: upstream.clientSecret,
      GOOGLE_ISSUER: upstream.issuer,
      // Wrong passwords and codes are the point here: the sign-in lock (its own suite
      // covers it) would otherwise answer 429 before the handlers see the input.
      LOGIN_MAX_FAILURES: '100000',
      LOGIN_MAX_FAILURES_PER_IP: '100000',
    });
    rp = await discover(server.issuer, await server.createClient({ redirect_uris: [REDIRECT] }));
    mfaRp = await discover(server.issuer, await server.createClient({ redirect_uris: [REDIRECT], require_mfa: true }));

    [consoleUser, totpUser, consentUser, resetUser, magicUser] = await Promise.all([makeUser(), makeUser(), makeUser(), makeUser(), makeUser()]);
    consoleAgent = await consoleBrowser(consoleUser);
    totpAgent = await consoleBrowser(totpUser);
    const qr = await totpAgent.submit(await totpAgent.open(`${server.issuer}/account/2fa`), '/account/2fa/start');
    const on = await totpAgent.submit(qr, '/account/2fa/confirm', { code: new Authenticator(/id="totp-secret">([A-Z2-7]+)</.exec(qr.html)![1]!).code() });
    assert.match(on.html, /Two-factor authentication is <strong>on<\/strong>/);

    const stranger = await signInPage();
    strangersAgent = stranger.agent;
    strangersToken = findForm(stranger.page.html, '/login').hidden.csrf!;
  });
  after(async () => {
    await server?.stop();
    await upstream?.stop();
    await smtp?.stop();
  });

  for (const t of TARGETS) {
    const answers = t.accepts ? `4xx, or ${t.accepts.why}` : '4xx';
    it(`${t.route}: every malformed submission gets ${answers}; never a 5xx or a stack trace`, async () => {
      const problems = await fuzz(t);
      assert.deepEqual(problems, [], `${t.route}:\n  ${problems.join('\n  ')}`);
      assert.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype is untouched');
      await healthy();
    });
  }

  it('POST /account/register: no lookalike or garbage address gets an account, even with a strong password (400)', async () => {
    const agent = new UserAgent();
    const r = reach(agent, await agent.open(`${server.issuer}/account/register`), '/account/register');
    const addresses = [
      'ädmin@example.com', 'admin@exämple.com', 'a\u202e@example.com', 'a\u0000@example.com', 'admin@example.com\u0000', ' admin@example.com',
      'admin@example.com\n', 'admin@example.com\r\nBcc: victim@example.com', 'a\u200b@example.com', '\ufeffadmin@example.com', 'ＡＤＭＩＮ@example.com',
      'admin@example.com,other@example.com', '"a b"@example.com', 'admin@[127.0.0.1]', 'a@b', `a@${'b'.repeat(250)}.com`, '<script>@example.com',
    ];
    for (const email of addresses) {
      const res = await agent.request(r.action, {
        method: 'POST',
        body: new URLSearchParams({ ...r.hidden, email, name: 'Lookalike', password: 'a perfectly strong passphrase 7413' }),
        headers: { ...FORM_TYPE, origin: new URL(server.issuer).origin },
      });
      assert.equal(res.status, 400, JSON.stringify(email));
      assert.equal(await server.store.users.findByEmail(email), undefined, JSON.stringify(email));
    }
  });

  it('an upload or a form cut off mid-body ends its request with a 4xx, without leaving it hanging', async () => {
    const cookie = [...consoleAgent.cookies].map(([k, v]) => `${k.split('|')[1]}=${v}`).join('; ');
    const { hidden } = await consoleForm(consoleAgent, '/account', '/account/avatar');
    const cases: Array<[path: string, contentType: string, start: string]> = [
      ['/account/avatar', `multipart/form-data; boundary=${BOUNDARY}`, multipart([field('csrf', hidden.csrf!), file(Buffer.alloc(1000, 1))]).subarray(0, 600).toString('latin1')],
      ['/account/profile', 'application/x-www-form-urlencoded', `csrf=${enc(hidden.csrf!)}&name=${'a'.repeat(500)}`],
    ];
    for (const [path, contentType, start] of cases) {
      const before = await requestCount(path);
      await new Promise<void>((resolve, reject) => {
        const socket = connect(Number(new URL(server.issuer).port), '127.0.0.1', () => {
          socket.write(`POST ${path} HTTP/1.1\r\nHost: ${new URL(server.issuer).host}\r\nCookie: ${cookie}\r\nContent-Type: ${contentType}\r\nContent-Length: 10000\r\n\r\n${start}`, 'latin1');
          setTimeout(() => socket.destroy(), 100);
        });
        socket.on('close', () => resolve());
        socket.on('error', reject);
      });
      let after = before;
      for (let i = 0; i < 40 && after.total === before.total; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        after = await requestCount(path);
      }
      assert.equal(after.total, before.total + 1, `POST ${path} cut off mid-body finished (it would otherwise hang on to its buffers)`);
      assert.equal(after.errors, before.errors, `POST ${path} cut off mid-body is not counted as a server error`);
    }
    await healthy();
  });

  it('left no half-written record behind: no stray accounts, and every account as it was', async () => {
    const users = await server.store.users.list({ limit: 1000 });
    const stray = users.filter((u) => !madeOnPurpose.has(u.email)).map((u) => u.email);
    assert.deepEqual(stray, [], 'no account was made by fuzzed input');
    for (const u of users) assert.match(u.email, /^[a-z0-9._+-]+@[a-z0-9.-]+$/, 'every address is clean');

    const me = (await server.store.users.findById(consoleUser.id))!;
    assert.ok(me, 'the console account still exists');
    assert.ok(['light', 'dark', 'system'].includes(me.theme), `theme ${me.theme}`);
    assert.ok(me.name === null || (me.name.length >= 1 && me.name.length <= 100 && me.name === me.name.trim()), `name ${JSON.stringify(me.name)}`);
    for (const key of await server.store.apiKeys.listForUser(consoleUser.id)) {
      assert.ok(key.name.length >= 1 && key.name.length <= 100 && key.name === key.name.trim(), `key name ${JSON.stringify(key.name.slice(0, 40))}`);
    }
    // (The reset link's own account is left out: a fuzzed value the policy accepts is a real new password.)
    for (const user of [consoleUser, totpUser, magicUser, consentUser]) {
      assert.ok(await authenticate(server.store, user.email, TEST_PASSWORD), `${user.email}'s password is unchanged`);
    }
    assert.equal((await server.store.secondFactors.getTotp(totpUser.id))?.confirmed, true, '2FA is still on');
    assert.notEqual((await server.store.secondFactors.getTotp(consoleUser.id))?.confirmed, true, '2FA was not turned on by a fuzzed code');
    await healthy();
  });
});

/** POST requests to `route` counted by /metrics so far: all, and those answered 5xx. */
async function requestCount(route: string): Promise<{ total: number; errors: number }> {
  const text = await (await fetch(`${server.issuer}/metrics`)).text();
  let total = 0;
  let errors = 0;
  for (const line of text.split('\n')) {
    const m = /^http_requests_total\{([^}]*)\} (\d+)/.exec(line);
    if (!m || !m[1]!.includes('method="POST"') || !m[1]!.includes(`route="${route}"`)) continue;
    total += Number(m[2]);
    if (/status="5\d\d"/.test(m[1]!)) errors += Number(m[2]);
  }
  return { total, errors };
}
