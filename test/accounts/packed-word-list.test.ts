import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { PackedWordList } from '../../src/accounts/packed-word-list.js';

/**
 * Full collections, for heap measurements; gc is exposed at run time so mocha needs no
 * flag. Twice: the first one can leave garbage the function just dropped.
 */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
}

/** Built in a frame of its own, so that no register of the test's still holds the words. */
function tenLetterWords(count: number): PackedWordList {
  return PackedWordList.from(Array.from({ length: count }, (_, i) => `w${i.toString(36).padStart(9, '0')}`));
}

describe('PackedWordList', () => {
  const words = ['password1234', 'qwertyuiop12', 'ｐａｓｓ', 'zz', 'a', 'passé-partout', '🦊🌵🎻🧭', 'Password1234', 'password12345'];

  it('finds every word it was built from, duplicates counted once', () => {
    const list = PackedWordList.from([...words, 'a', 'zz', 'password1234']);
    assert.equal(list.size, words.length);
    for (const word of words) assert.equal(list.has(word), true, word);
  });

  it('refuses prefixes, extensions, neighbours, the empty string and anything outside the range', () => {
    const list = PackedWordList.from(words);
    for (const other of ['password123', 'password123456', 'password1233', 'qwerty', 'b', '', 'A', '~', '🦊🌵🎻', 'passe-partout']) {
      assert.equal(list.has(other), false, other);
    }
  });

  it('holds nothing when built from nothing', () => {
    const list = PackedWordList.from([]);
    assert.equal(list.size, 0);
    assert.equal(list.has(''), false);
    assert.equal(list.has('a'), false);
  });

  it('agrees with a Set on 20,000 random words and as many misses', () => {
    const random = () => Math.random().toString(36).slice(2, 2 + 1 + Math.floor(Math.random() * 10));
    const inList = Array.from({ length: 20_000 }, random);
    const set = new Set(inList);
    const list = PackedWordList.from(inList);
    assert.equal(list.size, set.size);
    for (const word of inList) assert.equal(list.has(word), true, word);
    for (let i = 0; i < 20_000; i++) {
      const probe = random();
      assert.equal(list.has(probe), set.has(probe), probe);
    }
  });

  it('keeps 200,000 ten-letter words in under 5 MB of heap (a Set of them takes 13)', () => {
    collectGarbage();
    const before = process.memoryUsage().heapUsed;
    const list = tenLetterWords(200_000);
    collectGarbage();
    const retained = process.memoryUsage().heapUsed - before;
    assert.equal(list.size, 200_000);
    assert.ok(retained < 5e6, `retained ${(retained / 1e6).toFixed(1)} MB`);
  });
});
