import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '../../src/logger.js';

interface Line {
  level: string;
  time: string;
  msg: string;
  [field: string]: unknown;
}

function capturingLogger() {
  const lines: Line[] = [];
  const logger = createLogger('info', { service: 'gatehouse' }, (line) => lines.push(JSON.parse(line) as Line));
  return { logger, lines };
}

describe('logger', () => {
  it('writes one JSON object per line: level, ISO time, bindings, message and fields', () => {
    const { logger, lines } = capturingLogger();
    const before = Date.now();
    logger.info('request', { path: '/me', status: 200 });
    const after = Date.now();
    assert.equal(lines.length, 1);
    const [line] = lines;
    assert.deepEqual({ ...line, time: undefined }, { level: 'info', time: undefined, service: 'gatehouse', msg: 'request', path: '/me', status: 200 });
    assert.match(line!.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const at = Date.parse(line!.time);
    assert.ok(at >= before && at <= after, `time ${line!.time} lies within the call`);
  });

  it('stamps each line with the time it was logged, also when lines follow each other closely', async () => {
    const { logger, lines } = capturingLogger();
    const stamps: Array<[number, number]> = [];
    for (let i = 0; i < 5; i++) {
      const before = Date.now();
      logger.info('tick');
      logger.info('tick');
      stamps.push([before, Date.now()]);
      await sleep(3);
    }
    const times = lines.map((line) => Date.parse(line.time));
    stamps.forEach(([before, after], i) => {
      for (const at of [times[2 * i]!, times[2 * i + 1]!]) assert.ok(at >= before && at <= after, `line ${i}: ${new Date(at).toISOString()} outside its call`);
    });
    assert.ok(new Set(times).size >= 5, 'lines logged milliseconds apart carry different times');
  });

  it('keeps the name, message and stack of an error in any field, and leaves other fields as they are', () => {
    const { logger, lines } = capturingLogger();
    const cause = new TypeError('socket closed');
    logger.error('mail failed', { err: new Error('SMTP 421'), cause, attempt: 2 });
    const [line] = lines;
    assert.equal(line!.attempt, 2);
    assert.deepEqual({ ...(line!.err as object), stack: undefined }, { name: 'Error', message: 'SMTP 421', stack: undefined });
    assert.deepEqual(line!.cause, { name: 'TypeError', message: 'socket closed', stack: cause.stack });
    assert.match((line!.err as { stack: string }).stack, /SMTP 421\n\s+at /);
  });
});
