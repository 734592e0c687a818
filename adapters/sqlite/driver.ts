import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';

/**
 * better-sqlite3, in the major version that is safe on the running Node.
 *
 * - 12 wraps its objects in `node::ObjectWrap`. From Node 24.19 on, that destructor
 *   needs a JS context, and a statement garbage-collected by an idle-time GC has none:
 *   the process aborts with "Assertion failed: (env) != nullptr" (nodejs/node#65446).
 *   Here that happened at the first restart of a server.
 * - 13 is built on Node-API, which fixes that, and ships its binaries in the package
 *   (no download or compiler at install), but needs Node 22: on Node 20 it segfaults.
 *
 * So both are installed (13 under the alias `better-sqlite3-napi`) and this picks one.
 * Their API is the same; the types are 12's.
 */
const NAPI_FROM_NODE_MAJOR = 22;

const nodeMajor = (version = process.versions.node): number => Number(version.split('.')[0]);

export const driverPackage = (version = process.versions.node): 'better-sqlite3' | 'better-sqlite3-napi' =>
  nodeMajor(version) >= NAPI_FROM_NODE_MAJOR ? 'better-sqlite3-napi' : 'better-sqlite3';

export const Database = createRequire(import.meta.url)(driverPackage()) as typeof BetterSqlite3;
export type Database = BetterSqlite3.Database;
