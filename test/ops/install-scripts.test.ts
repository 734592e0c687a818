import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('../../', import.meta.url).pathname;

interface Manifest {
  name: string;
  scripts?: Record<string, string>;
  allowScripts?: Record<string, boolean>;
}

const readManifest = (dir: string) => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;

/** Whether npm runs something of this package's at install: as npm does, a binding.gyp means an implied `node-gyp rebuild`. */
function runsInstallScript(dir: string, manifest: Manifest): boolean {
  const scripts = manifest.scripts ?? {};
  if (scripts.preinstall || scripts.install || scripts.postinstall) return true;
  return existsSync(join(dir, 'binding.gyp'));
}

/** The package directories under a node_modules folder, scoped and nested ones included. */
function* installedPackages(nodeModules: string): Generator<string> {
  if (!existsSync(nodeModules)) return;
  for (const entry of readdirSync(nodeModules, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const path = join(nodeModules, entry.name);
    if (entry.name.startsWith('@')) {
      yield* installedPackages(path);
      continue;
    }
    if (!existsSync(join(path, 'package.json'))) continue;
    yield path;
    yield* installedPackages(join(path, 'node_modules'));
  }
}

describe('install scripts', () => {
  // npm 12 skips every dependency install script that package.json's allowScripts does not
  // approve; an unapproved native module would leave `npm ci && npm start` without its binary.
  const { allowScripts = {} } = readManifest(root);
  const withScripts = new Set<string>();
  for (const dir of installedPackages(join(root, 'node_modules'))) {
    const manifest = readManifest(dir);
    if (runsInstallScript(dir, manifest)) withScripts.add(manifest.name);
  }

  it('are approved for every installed dependency that has one', () => {
    assert.ok(withScripts.has('better-sqlite3'), 'the walk finds the SQLite driver, which builds at install');
    const unapproved = [...withScripts].filter((name) => allowScripts[name] !== true);
    assert.deepEqual(unapproved, [], 'add them to allowScripts (npm install-scripts approve --no-allow-scripts-pin <name>) after review');
  });

  it('are approved for nothing that no longer needs it', () => {
    const stale = Object.keys(allowScripts).filter((name) => !withScripts.has(name));
    assert.deepEqual(stale, [], 'an approval outlives its package: remove it');
  });
});
