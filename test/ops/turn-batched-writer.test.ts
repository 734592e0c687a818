import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { TurnBatchedWriter } from '../../src/ops/turn-batched-writer.js';

describe('request log writes', () => {
  it('hands the lines of one event-loop turn to stdout in one write, right after the turn', async () => {
    const writes: string[] = [];
    const writer = new TurnBatchedWriter({ write: (text: string) => writes.push(text) });
    writer.write('{"msg":"a"}\n');
    writer.write('{"msg":"b"}\n');
    writer.write('{"msg":"c"}\n');
    assert.deepEqual(writes, [], 'nothing is written during the turn');
    await nextTurn();
    assert.deepEqual(writes, ['{"msg":"a"}\n{"msg":"b"}\n{"msg":"c"}\n']);
    writer.write('{"msg":"d"}\n');
    await nextTurn();
    assert.deepEqual(writes.slice(1), ['{"msg":"d"}\n'], 'a later turn gets a write of its own');
  });

  it('still writes a line logged just before process.exit', async () => {
    const logger = new URL('../../src/logger.ts', import.meta.url).href;
    const script = `import { createLogger } from ${JSON.stringify(logger)};
      createLogger('info').error('shutdown failed', { code: 'E_TEST' });
      process.exit(3);`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    const [code] = await once(child, 'exit');
    assert.equal(code, 3);
    const line = JSON.parse(stdout.trim()) as { level: string; msg: string; code: string };
    assert.deepEqual([line.level, line.msg, line.code], ['error', 'shutdown failed', 'E_TEST']);
  });
});
