import { EventEmitter } from 'node:events';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { freePort } from './free-port.js';

/** One message as the relay received it: envelope recipients plus the decoded parts. */
export interface CapturedMail {
  /** Envelope recipients (RCPT TO), what the relay would actually deliver to. */
  to: string[];
  subject: string;
  text: string;
  html: string;
  raw: string;
  /** The first http(s) link of the plain-text part: what a test "clicks". */
  link(): string;
}

/**
 * A real SMTP server on loopback, so tests exercise nodemailer's actual protocol
 * exchange (including refusals) instead of a mocked transport.
 */
export interface TestSmtpServer {
  /** An `SMTP_URL` that points at this server. */
  url: string;
  messages: CapturedMail[];
  /** Number of transactions turned away by {@link TestSmtpServer.refuseNext}. */
  readonly refused: number;
  /** Resolves with the first captured message (already received or still to come) matching. */
  waitForMail(predicate?: (mail: CapturedMail) => boolean, timeoutMs?: number): Promise<CapturedMail>;
  /** Answers the next `count` transactions with `451 4.3.0`, a relay that is temporarily unavailable. */
  refuseNext(count: number): void;
  stop(): Promise<void>;
}

/** Starts a fresh relay per test so refusals and captured mail never leak between tests. */
export async function startSmtpServer(): Promise<TestSmtpServer> {
  const messages: CapturedMail[] = [];
  const arrivals = new EventEmitter();
  let toRefuse = 0;
  let refused = 0;

  const server = new SMTPServer({
    // Plain loopback SMTP: no certificates to manage, and no credentials to configure.
    disabledCommands: ['STARTTLS'],
    authOptional: true,
    logger: false,
    onMailFrom(_address, _session, callback) {
      if (toRefuse > 0) {
        toRefuse -= 1;
        refused += 1;
        callback(Object.assign(new Error('4.3.0 try again later'), { responseCode: 451 }));
        return;
      }
      callback();
    },
    onData(stream, session, callback) {
      const recipients = session.envelope.rcptTo.map((a) => a.address);
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        simpleParser(raw).then(
          (parsed) => {
            const mail = capture(recipients, raw, parsed.subject ?? '', parsed.text ?? '', parsed.html || '');
            messages.push(mail);
            arrivals.emit('mail', mail);
            callback();
          },
          (err: Error) => callback(err),
        );
      });
    },
  });
  const port = await freePort();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  // Once listening, a client dropping its connection is the test's business (the mailer
  // under test sees it), not an uncaught exception that kills the run.
  server.on('error', () => {});

  return {
    url: `smtp://127.0.0.1:${port}`,
    messages,
    get refused() {
      return refused;
    },
    waitForMail(predicate = () => true, timeoutMs = 10_000) {
      const seen = messages.find(predicate);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const onMail = (mail: CapturedMail) => {
          if (!predicate(mail)) return;
          clearTimeout(timer);
          arrivals.off('mail', onMail);
          resolve(mail);
        };
        const timer = setTimeout(() => {
          arrivals.off('mail', onMail);
          reject(new Error(`no matching mail within ${timeoutMs} ms (${messages.length} received)`));
        }, timeoutMs);
        arrivals.on('mail', onMail);
      });
    },
    refuseNext(count) {
      toRefuse = count;
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function capture(to: string[], raw: string, subject: string, text: string, html: string): CapturedMail {
  return {
    to,
    subject,
    text,
    html,
    raw,
    link() {
      const match = /https?:\/\/[^\s<>"]+/.exec(text);
      if (!match) throw new Error(`no link in mail "${subject}"`);
      return match[0];
    },
  };
}
