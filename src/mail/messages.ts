import { fileURLToPath } from 'node:url';
import ejs from 'ejs';
import type { OutgoingMail } from './mailer.js';

/**
 * A mail that carries a single-use link. The caller builds `link` from the configured
 * issuer, never from the request's `Host` header, so a forged Host cannot point the link
 * at an attacker's site.
 */
export interface LinkMailInput {
  to: string;
  link: string;
  productName?: string;
  /** How long the link stays valid; shown to the reader so a stale link is no surprise. */
  ttlMinutes?: number;
}

/** A mail that only informs, with nothing to click. */
export interface NoticeMailInput {
  to: string;
  productName?: string;
}

const defaultProductName = 'Gatehouse';
const viewsDir = fileURLToPath(new URL('../../views/mail/', import.meta.url));

/** Asks a new account to prove it owns its address before that address is trusted. */
export function verifyEmailMessage(input: LinkMailInput): Promise<OutgoingMail> {
  const productName = input.productName ?? defaultProductName;
  // A day: sign-up mails are often opened later, and verifying grants no session.
  return linkMail('verify-email', `Confirm your email address for ${productName}`, input, 24 * 60);
}

/** Lets someone who forgot their password choose a new one. */
export function passwordResetMessage(input: LinkMailInput): Promise<OutgoingMail> {
  const productName = input.productName ?? defaultProductName;
  return linkMail('password-reset', `Reset your ${productName} password`, input, 60);
}

/** Signs a person in without a password; short-lived because the link is the credential. */
export function magicLinkMessage(input: LinkMailInput): Promise<OutgoingMail> {
  const productName = input.productName ?? defaultProductName;
  return linkMail('magic-link', `Your ${productName} sign-in link`, input, 15);
}

/**
 * Tells the owner their password changed, so a takeover does not go unnoticed. It has no
 * link on purpose: a mail that says "click here if this wasn't you" is what phishing looks like.
 */
export async function passwordChangedNotice(input: NoticeMailInput): Promise<OutgoingMail> {
  const productName = input.productName ?? defaultProductName;
  const subject = `Your ${productName} password was changed`;
  return { to: input.to, subject, ...(await render('password-changed', { subject, productName })) };
}

async function linkMail(
  message: string,
  subject: string,
  input: LinkMailInput,
  defaultTtlMinutes: number,
): Promise<OutgoingMail> {
  // HTML escaping keeps a link from breaking out of its attribute, but a `javascript:`
  // URL would still run when clicked; only web links belong in these mails.
  if (!/^https?:$/.test(new URL(input.link).protocol)) {
    throw new TypeError('mail links must be http(s) URLs');
  }
  const bodies = await render(message, {
    subject,
    productName: input.productName ?? defaultProductName,
    link: input.link,
    expiresIn: formatDuration(input.ttlMinutes ?? defaultTtlMinutes),
  });
  return { to: input.to, subject, link: input.link, ...bodies };
}

async function render(message: string, locals: Record<string, unknown>): Promise<{ text: string; html: string }> {
  const data = { ...locals, message };
  const [html, text] = await Promise.all([
    ejs.renderFile(`${viewsDir}layout.html.ejs`, data),
    // Plain text is not markup: `<%= %>` must not turn `&` in a link into `&amp;`.
    ejs.renderFile(`${viewsDir}layout.txt.ejs`, data, { escape: (value: unknown) => (value == null ? '' : String(value)) }),
  ]);
  return { text, html };
}

function formatDuration(minutes: number): string {
  if (minutes % 60 === 0) {
    const hours = minutes / 60;
    return hours === 1 ? '1 hour' : `${hours} hours`;
  }
  return minutes === 1 ? '1 minute' : `${minutes} minutes`;
}
