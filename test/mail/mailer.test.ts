import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { simpleParser } from 'mailparser';
import { createLogger, type Logger } from '../../src/logger.js';
import { createMailer, type Mailer, type MailerOptions } from '../../src/mail/mailer.js';
import {
  magicLinkMessage,
  passwordChangedNotice,
  passwordResetMessage,
  verifyEmailMessage,
} from '../../src/mail/messages.js';
import { freePort } from '../helpers/free-port.js';
import { startSmtpServer, type TestSmtpServer } from '../helpers/smtp-server.js';

type LogEntry = { level: string; msg: string } & Record<string, unknown>;

/** A logger whose lines the test can read, and wait for when they come from a background send. */
function captureLogs() {
  const entries: LogEntry[] = [];
  const written = new EventEmitter();
  const logger = createLogger('debug', {}, (line) => {
    entries.push(JSON.parse(line) as LogEntry);
    written.emit('line');
  });
  const waitFor = (predicate: (entry: LogEntry) => boolean): Promise<LogEntry> =>
    new Promise((resolve) => {
      const check = () => {
        const found = entries.find(predicate);
        if (!found) return;
        written.off('line', check);
        resolve(found);
      };
      written.on('line', check);
      check();
    });
  return { logger, entries, waitFor, at: (level: string) => entries.filter((e) => e.level === level) };
}

const from = 'Gatehouse <no-reply@example.test>';
const link = 'https://login.example.test/interaction/reset/abc123';

describe('mail', () => {
  let smtp: TestSmtpServer;
  let logs: ReturnType<typeof captureLogs>;
  let mailers: Mailer[];

  const smtpMailer = (options: MailerOptions = {}, logger: Logger = logs.logger) => {
    const mailer = createMailer({ smtpUrl: smtp.url, from, outboxDir: '/nonexistent' }, logger, options);
    mailers.push(mailer);
    return mailer;
  };

  beforeEach(async () => {
    smtp = await startSmtpServer();
    logs = captureLogs();
    mailers = [];
  });

  afterEach(async () => {
    await Promise.all(mailers.map((m) => m.close()));
    await smtp.stop();
  });

  describe('through an SMTP relay', () => {
    it('delivers subject, plain text and HTML carrying the link', async () => {
      const message = await passwordResetMessage({ to: 'ada@example.test', link, productName: 'Acme ID' });
      await smtpMailer().send(message);

      const mail = await smtp.waitForMail();
      assert.deepEqual(mail.to, ['ada@example.test']);
      assert.equal(mail.subject, 'Reset your Acme ID password');
      assert.equal(mail.link(), link);
      assert.match(mail.text, /expires in 1 hour/);
      assert.ok(mail.html.includes(`href="${link}"`));
      assert.match(mail.raw, /^From: Gatehouse <no-reply@example\.test>/m);
      assert.match(mail.raw, /^Auto-Submitted: auto-generated/m);
    });

    it('rejects from send() when the relay refuses, for callers that must know', async () => {
      smtp.refuseNext(1);
      const message = await magicLinkMessage({ to: 'ada@example.test', link });
      await assert.rejects(smtpMailer().send(message), (err: Error & { responseCode?: number }) => err.responseCode === 451);
      assert.equal(smtp.messages.length, 0);
    });

    it('retries a background send the relay refused, then delivers it', async () => {
      smtp.refuseNext(1);
      const message = await magicLinkMessage({ to: 'grace@example.test', link });
      assert.equal(smtpMailer({ retryDelaysMs: [20, 20] }).sendInBackground(message), undefined);

      const mail = await smtp.waitForMail((m) => m.to.includes('grace@example.test'));
      assert.equal(mail.link(), link);
      assert.equal(smtp.refused, 1);
      const [warning, ...more] = logs.at('warn');
      assert.equal(more.length, 0);
      assert.equal(warning?.attempt, 1);
      assert.deepEqual((warning?.error as { responseCode?: number }).responseCode, 451);
      assert.equal(logs.at('error').length, 0);
    });

    it('gives up after the last retry and logs an error naming recipient and subject', async () => {
      smtp.refuseNext(100);
      const message = await magicLinkMessage({ to: 'grace@example.test', link });
      smtpMailer({ retryDelaysMs: [10, 10] }).sendInBackground(message);

      const failure = await logs.waitFor((e) => e.level === 'error');
      assert.equal(failure.reason, 'out of retries');
      assert.equal(failure.attempt, 3);
      assert.equal(failure.to, 'grace@example.test');
      assert.equal(failure.subject, message.subject);
      assert.equal(smtp.refused, 3);
      assert.equal(logs.at('warn').length, 2);
      assert.equal(smtp.messages.length, 0);
    });

    it('never throws from a background send while the relay is down', async () => {
      const closedPort = await freePort();
      const mailer = createMailer(
        { smtpUrl: `smtp://127.0.0.1:${closedPort}`, from, outboxDir: '/nonexistent' },
        logs.logger,
        { retryDelaysMs: [10] },
      );
      mailers.push(mailer);
      const message = await passwordResetMessage({ to: 'ada@example.test', link });

      assert.doesNotThrow(() => mailer.sendInBackground(message));
      const failure = await logs.waitFor((e) => e.level === 'error');
      assert.equal(failure.attempt, 2);
      assert.equal(logs.at('warn').length, 1);
    });

    it('close() cancels a pending retry and logs the mail it drops', async () => {
      smtp.refuseNext(1);
      const mailer = smtpMailer({ retryDelaysMs: [100] });
      mailer.sendInBackground(await magicLinkMessage({ to: 'ada@example.test', link }));
      await logs.waitFor((e) => e.level === 'warn');

      await mailer.close();
      // Past the retry's due time: a retry that still fired would have logged by now.
      await sleep(400);
      const [dropped, ...more] = logs.at('error');
      assert.equal(more.length, 0);
      assert.equal(dropped?.reason, 'mailer closed');
      assert.equal(dropped?.to, 'ada@example.test');
      assert.equal(smtp.refused, 1);
      assert.equal(smtp.messages.length, 0);
      await assert.rejects(mailer.send(await magicLinkMessage({ to: 'ada@example.test', link })), /closed/);
    });
  });

  describe('without SMTP_URL (development)', () => {
    let dataDir: string;
    beforeEach(async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'gatehouse-mail-'));
    });
    afterEach(() => rm(dataDir, { recursive: true, force: true }));

    it('writes the message to the outbox and logs only recipient, subject and link', async () => {
      const outboxDir = join(dataDir, 'outbox');
      const mailer = createMailer({ smtpUrl: undefined, from, outboxDir }, logs.logger);
      mailers.push(mailer);
      const message = await magicLinkMessage({ to: 'ada@example.test', link });
      await mailer.send(message);

      const files = await readdir(outboxDir);
      assert.equal(files.length, 1);
      assert.match(files[0] ?? '', /\.eml$/);
      const saved = await simpleParser(await readFile(join(outboxDir, files[0] ?? '')));
      assert.equal(saved.subject, message.subject);
      assert.ok(saved.text?.includes(link));

      const [entry, ...more] = logs.entries;
      assert.equal(more.length, 0);
      assert.equal(entry?.level, 'info');
      assert.equal(entry?.to, 'ada@example.test');
      assert.equal(entry?.subject, message.subject);
      assert.equal(entry?.link, link);
      // Nothing of the body beyond the link: it is the only part a developer needs.
      assert.deepEqual(Object.keys(entry ?? {}).sort(), ['component', 'file', 'level', 'link', 'msg', 'subject', 'time', 'to']);
      assert.equal(entry?.file, join(outboxDir, files[0] ?? ''));
    });
  });

  describe('messages', () => {
    it('escapes HTML in every input and keeps the plain text literal', async () => {
      const hostile = 'https://login.example.test/magic?t=1&x="><script>alert(1)</script>';
      const message = await magicLinkMessage({ to: 'ada@example.test', link: hostile, productName: '<img src=x onerror=alert(1)>' });

      assert.ok(!message.html.includes('"><script>'));
      assert.ok(!message.html.includes('<img'));
      assert.ok(message.html.includes('&#34;&gt;&lt;script&gt;'));
      assert.ok(message.html.includes('&lt;img src=x onerror=alert(1)&gt;'));
      // Plain text is not markup: an `&amp;` there would break the link.
      assert.ok(message.text.includes(hostile));
    });

    it('refuses links that are not web links', async () => {
      await assert.rejects(magicLinkMessage({ to: 'ada@example.test', link: 'javascript:alert(1)' }), TypeError);
    });

    it('builds each message issue 3 needs, with the expiry the reader should expect', async () => {
      const to = 'ada@example.test';
      const verify = await verifyEmailMessage({ to, link });
      const reset = await passwordResetMessage({ to, link });
      const magic = await magicLinkMessage({ to, link });
      const shortMagic = await magicLinkMessage({ to, link, ttlMinutes: 10 });
      const notice = await passwordChangedNotice({ to, productName: 'Acme ID' });

      assert.match(verify.text, /expires in 24 hours/);
      assert.match(reset.text, /expires in 1 hour\b/);
      assert.match(magic.text, /expires in 15 minutes/);
      assert.match(shortMagic.text, /expires in 10 minutes/);
      for (const m of [verify, reset, magic]) {
        assert.equal(m.link, link);
        assert.ok(m.text.includes(link) && m.html.includes(link));
      }
      assert.equal(notice.subject, 'Your Acme ID password was changed');
      assert.equal(notice.link, undefined);
      assert.doesNotMatch(notice.text, /https?:\/\//);
      for (const m of [verify, reset, magic, notice]) {
        assert.equal(m.to, to);
        assert.doesNotMatch(m.html, /<img|<link|<script|\ssrc=/i, 'mail HTML must be self-contained');
      }
    });
  });
});
