import assert from 'node:assert/strict';
import { ConcurrencyLimit } from '../../src/security/concurrency-limit.js';

/** A task that runs until `finish()` is called, so the test decides who is still running. */
function heldTask(log: string[], name: string) {
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  return {
    task: async () => {
      log.push(`start ${name}`);
      await done;
      log.push(`end ${name}`);
      return name;
    },
    finish,
  };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('ConcurrencyLimit', () => {
  it('runs at most the limit at once and starts the waiting ones first come, first served', async () => {
    const limit = new ConcurrencyLimit(2);
    const log: string[] = [];
    const tasks = ['a', 'b', 'c', 'd'].map((name) => heldTask(log, name));
    const results = tasks.map((t) => limit.run(t.task));
    await settle();
    assert.deepEqual(log, ['start a', 'start b']);
    assert.equal(limit.active, 2);
    assert.equal(limit.waiting, 2);

    tasks[1]!.finish();
    await settle();
    // A newcomer queues behind c and d even though a slot just turned over.
    const late = heldTask(log, 'e');
    const lateResult = limit.run(late.task);
    await settle();
    assert.deepEqual(log, ['start a', 'start b', 'end b', 'start c']);
    assert.equal(limit.active, 2);

    for (const t of [tasks[0]!, tasks[2]!, tasks[3]!, late]) {
      t.finish();
      await settle();
    }
    assert.deepEqual(await Promise.all([...results, lateResult]), ['a', 'b', 'c', 'd', 'e']);
    assert.deepEqual(log.filter((l) => l.startsWith('start')), ['start a', 'start b', 'start c', 'start d', 'start e']);
    assert.equal(limit.active, 0);
    assert.equal(limit.waiting, 0);
  });

  it('frees the slot of a task that throws', async () => {
    const limit = new ConcurrencyLimit(1);
    await assert.rejects(limit.run(async () => Promise.reject(new Error('boom'))), /boom/);
    assert.equal(await limit.run(async () => 'next'), 'next');
    assert.equal(limit.active, 0);
  });

  it('starts waiting tasks at once when the limit is raised, and lowers it as tasks finish', async () => {
    const limit = new ConcurrencyLimit(1);
    const log: string[] = [];
    const [a, b, c] = ['a', 'b', 'c'].map((name) => heldTask(log, name));
    const all = [a!, b!, c!].map((t) => limit.run(t.task));
    await settle();
    limit.setLimit(3);
    await settle();
    assert.equal(limit.active, 3);

    limit.setLimit(1);
    const d = heldTask(log, 'd');
    all.push(limit.run(d.task));
    a!.finish();
    b!.finish();
    await settle();
    assert.equal(limit.active, 1, 'two finished tasks gave no slot to d while c still runs');
    assert.ok(!log.includes('start d'));
    c!.finish();
    await settle();
    assert.ok(log.includes('start d'));
    d.finish();
    await Promise.all(all);
  });

  it('refuses a limit that is not a whole number ≥ 1', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) assert.throws(() => new ConcurrencyLimit(bad), RangeError);
    assert.throws(() => new ConcurrencyLimit(1).setLimit(0), RangeError);
  });
});
