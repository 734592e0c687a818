/**
 * Structured JSON logs, one object per line on stdout, written by pino: it is fast (bindings
 * are serialised once per child, lines are built as strings) and its line shape (`level`,
 * `time`, `msg` plus flat fields) is the standard one log shippers ingest as-is. Callers only
 * see the small `Logger` interface below, so pino stays an implementation detail.
 */
import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';
import { TurnBatchedWriter } from './ops/turn-batched-writer.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
type Fields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  child(fields: Fields): Logger;
}

// Synchronous writes to stdout: a line logged just before `process.exit` (a failed
// shutdown, say) must reach the pipe, and pino's asynchronous mode would drop whatever is
// still buffered. The lines of one event-loop turn share one write (TurnBatchedWriter):
// one per request cost ~10% of the client_credentials rate at LOG_LEVEL=info.
// One destination for the whole process, however many loggers are created.
let stdout: DestinationStream | undefined;
const stdoutDestination = () => (stdout ??= new TurnBatchedWriter(pino.destination({ dest: 1, sync: true })));

export function createLogger(
  level: LogLevel | 'silent',
  base: Fields = {},
  write?: (line: string) => void,
): Logger {
  const logger = pino(
    {
      level,
      // The bindings replace pino's default `pid` and `hostname`: one process per container,
      // and the shipper already records where a line came from.
      base,
      timestamp: isoTimeOncePerMillisecond,
      formatters: {
        level: (label) => ({ level: label }),
        log: (fields) => mapValues(fields, serializeError),
      },
      // Replaces pino's std `err` serializer, which copies every enumerable property of
      // the error (an SMTP reply, a query): keep only what an operator needs.
      serializers: { err: serializeError },
    },
    write ? { write } : stdoutDestination(),
  );
  return wrap(logger);
}

function wrap(logger: PinoLogger): Logger {
  return {
    debug: (msg, fields = {}) => logger.debug(fields, msg),
    info: (msg, fields = {}) => logger.info(fields, msg),
    warn: (msg, fields = {}) => logger.warn(fields, msg),
    error: (msg, fields = {}) => logger.error(fields, msg),
    child: (fields) => wrap(logger.child(fields)),
  };
}

// pino.stdTimeFunctions.isoTime formats a Date for every line: ~3 µs a request line in a
// busy server (profiled under userinfo load), where many lines share a millisecond.
let formattedAt = -1;
let formatted = '';
function isoTimeOncePerMillisecond(): string {
  const now = Date.now();
  if (now !== formattedAt) {
    formattedAt = now;
    formatted = `,"time":"${new Date(now).toISOString()}"`;
  }
  return formatted;
}

// Errors serialise to {} by default, whatever field holds them (`err`, `cause`, …).
function serializeError(value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
  return value;
}

function mapValues(fields: Fields, f: (value: unknown) => unknown): Fields {
  let mapped: Fields | undefined;
  // for…in, not Object.entries: this runs for every line, and most have no error to map.
  for (const key in fields) {
    const value = fields[key];
    const next = f(value);
    if (next !== value) (mapped ??= { ...fields })[key] = next;
  }
  return mapped ?? fields;
}
