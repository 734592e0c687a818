import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createTransport } from 'nodemailer';
import type { Logger } from '../logger.js';

/** Where mail goes: `SMTP_URL`/`MAIL_FROM` from the environment, the outbox under the data dir. */
export interface MailConfig {
  /** Unset in development: mails then land in {@link MailConfig.outboxDir} instead of a relay. */
  smtpUrl: string | undefined;
  from: string;
  outboxDir: string;
}

/**
 * One rendered message. `link` is carried beside the bodies so the development outbox
 * can log it (a developer clicks it in the console) without logging the body itself.
 */
export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
  html: string;
  link?: string;
}

/**
 * The only way Gatehouse sends mail. Request handlers use {@link Mailer.sendInBackground}
 * so that a response never waits on, or fails because of, the SMTP relay: reset and magic
 * link answer the same generic 200 whether the address exists and whether SMTP is up.
 */
export interface Mailer {
  /** Delivers once and rejects on failure; for callers that must know (CLI, admin tools). */
  send(message: OutgoingMail): Promise<void>;
  /** Delivers with retries, never throws and never rejects; failures are logged. */
  sendInBackground(message: OutgoingMail): void;
  /** Cancels pending retries, waits for attempts already under way, closes the transport. */
  close(): Promise<void>;
}

/** Tuning that tests shorten; production uses the defaults. */
export interface MailerOptions {
  /**
   * Waits before each retry of a background send; its length is the number of retries.
   * The default spreads four attempts over half a minute, long enough to ride out a relay
   * restart, short enough that a link is still valid when it arrives.
   */
  retryDelaysMs?: readonly number[];
}

const defaultRetryDelaysMs = [1_000, 5_000, 25_000] as const;

interface Transport {
  deliver(message: OutgoingMail): Promise<void>;
  close(): void;
}

/**
 * Picks the SMTP relay when one is configured and the on-disk outbox otherwise, so a
 * fresh checkout can walk through sign-up and reset without any mail infrastructure.
 */
export function createMailer(config: MailConfig, logger: Logger, options: MailerOptions = {}): Mailer {
  const log = logger.child({ component: 'mail' });
  const retryDelaysMs = options.retryDelaysMs ?? defaultRetryDelaysMs;
  const transport = config.smtpUrl ? smtpTransport(config.smtpUrl, config.from) : outboxTransport(config, log);
  const pendingRetries = new Map<NodeJS.Timeout, OutgoingMail>();
  const inFlight = new Set<Promise<void>>();
  let closed = false;

  const send = async (message: OutgoingMail): Promise<void> => {
    if (closed) throw new Error('mailer is closed');
    await transport.deliver(message);
  };

  // Only the recipient and subject are logged: the body holds single-use secrets. A lost
  // mail is always an error line, so an operator can tell the person to ask again.
  const giveUp = (message: OutgoingMail, fields: Record<string, unknown>) =>
    log.error('mail not delivered, giving up', { to: message.to, subject: message.subject, ...fields });

  const attempt = (message: OutgoingMail, index: number): void => {
    const running = send(message).catch((err: unknown) => {
      const fields = { attempt: index + 1, error: describe(err) };
      const delay = retryDelaysMs[index];
      if (closed || delay === undefined) {
        giveUp(message, { ...fields, reason: closed ? 'mailer closed' : 'out of retries' });
        return;
      }
      log.warn('mail delivery failed, will retry', { to: message.to, subject: message.subject, ...fields, retryInMs: delay });
      const timer = setTimeout(() => {
        pendingRetries.delete(timer);
        attempt(message, index + 1);
      }, delay);
      // A pending retry must not keep the process alive at shutdown.
      timer.unref();
      pendingRetries.set(timer, message);
    });
    inFlight.add(running);
    void running.finally(() => inFlight.delete(running));
  };

  return {
    send,
    sendInBackground: (message) => attempt(message, 0),
    async close() {
      closed = true;
      for (const [timer, message] of pendingRetries) {
        clearTimeout(timer);
        giveUp(message, { reason: 'mailer closed' });
      }
      pendingRetries.clear();
      await Promise.all(inFlight);
      transport.close();
    },
  };
}

function smtpTransport(url: string, from: string): Transport {
  // No pooling: mail is rare here (sign-up, reset), and a fresh connection per attempt
  // means a retry never reuses a connection the relay has silently dropped. Timeouts are
  // far below nodemailer's minutes-long defaults so a dead relay fails an attempt quickly;
  // parameters in SMTP_URL still override them.
  const transporter = createTransport({
    url,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
  });
  return {
    async deliver(message) {
      await transporter.sendMail(envelope(message, from));
    },
    close: () => transporter.close(),
  };
}

function outboxTransport(config: MailConfig, log: Logger): Transport {
  const composer = createTransport({ streamTransport: true, buffer: true });
  return {
    async deliver(message) {
      const info = await composer.sendMail(envelope(message, config.from));
      // Recursive mkdir on every send: cheap, and survives someone emptying ./data.
      await mkdir(config.outboxDir, { recursive: true });
      // Timestamp first so a directory listing is in sending order.
      const file = join(config.outboxDir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomUUID()}.eml`);
      // `buffer: true` above makes the stream transport hand back a Buffer, not a stream.
      await writeFile(file, info.message as Buffer);
      log.info('mail written to outbox', { to: message.to, subject: message.subject, link: message.link, file });
    },
    close: () => {},
  };
}

function envelope(message: OutgoingMail, from: string) {
  return {
    from,
    to: message.to,
    subject: message.subject,
    text: message.text,
    html: message.html,
    // RFC 3834: tells vacation responders and ticket systems not to answer a robot.
    headers: { 'Auto-Submitted': 'auto-generated' },
  };
}

// nodemailer errors carry the SMTP reply in `response`/`responseCode`; that is what an
// operator needs, not a stack trace per retry.
function describe(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { message: String(err) };
  const { code, responseCode } = err as Error & { code?: unknown; responseCode?: unknown };
  return { message: err.message, code, responseCode };
}
