import { AsyncLocalStorage } from 'node:async_hooks';
import { Session } from 'node:inspector';

interface PausedEvent {
  params: { reason: string; data?: { description?: string }; callFrames: { functionName: string; url: string; location: { lineNumber: number } }[] };
}

/**
 * Records the exceptions thrown in this process (caught ones too) on the server's
 * side, as a debugger paused on all exceptions sees them. The test's own requests run
 * in `clientSide`, and everything that follows from them (fetch, its streams, the OIDC
 * client) stays in that async context; the server's handlers start from its listening
 * socket, outside it. The pause is reported synchronously at the throw, so the context
 * at hand is the thrower's.
 */
export class ThrownExceptions {
  readonly #session = new Session();
  readonly #clientSide = new AsyncLocalStorage<true>();

  /** Runs `requests` as the client and records what the server throws meanwhile. */
  async during(requests: () => Promise<void>): Promise<string[]> {
    const seen: string[] = [];
    this.#session.connect();
    this.#session.on('Debugger.paused', ({ params }: PausedEvent) => {
      if (!this.#clientSide.getStore()) {
        const frames = params.callFrames.slice(0, 6).map((f) => `${f.functionName || '(anonymous)'} ${f.url}:${f.location.lineNumber + 1}`);
        seen.push(`${(params.data?.description ?? params.reason).split('\n')[0]}\n    at ${frames.join('\n    at ')}`);
      }
      this.#session.post('Debugger.resume');
    });
    await this.#post('Debugger.enable');
    await this.#post('Debugger.setPauseOnExceptions', { state: 'all' });
    try {
      await this.#clientSide.run(true, requests);
    } finally {
      await this.#post('Debugger.disable');
      this.#session.disconnect();
    }
    return seen;
  }

  #post(method: string, params?: object): Promise<void> {
    return new Promise((resolve, reject) => this.#session.post(method, params, (err) => (err ? reject(err) : resolve())));
  }
}
