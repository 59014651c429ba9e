/** Test helpers: run the real server binary, bound waits, inject failures. */

import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import * as grpc from '@grpc/grpc-js';

import { EventStreamClient, type ClientOptions, type RetryPolicy } from '../src';

const DEFAULT_BIN = path.resolve(__dirname, '..', '..', '..', '..', 'target', 'debug', 'eventstream');
const LISTENING = /listening on (\S+):(\d+),/;

export function serverBinary(): string {
  const bin = path.resolve(process.env.EVENTSTREAM_BIN ?? DEFAULT_BIN);
  if (!fs.existsSync(bin)) {
    throw new Error(`eventstream server binary not found at ${bin}; run \`cargo build\` or set EVENTSTREAM_BIN`);
  }
  return bin;
}

export const TEST_RETRY: Partial<RetryPolicy> = { maxAttempts: 40, totalTimeoutMs: 20_000, attemptTimeoutMs: 5_000, maxBackoffMs: 500 };
export const TEST_RECONNECT: Partial<RetryPolicy> = { maxAttempts: null, totalTimeoutMs: 20_000, maxBackoffMs: 500 };

export function tempDir(prefix = 'eventstream-ts-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** One server process on a data directory; can be killed and restarted on the same port. */
export class Server {
  port: number | undefined;
  log: string[] = [];
  private proc: ChildProcess | undefined;

  constructor(
    readonly dataDir: string,
    readonly extraArgs: string[] = [],
  ) {}

  get target(): string {
    if (this.port === undefined) throw new Error('server never started');
    return `127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Starts the server (on the previous port, if it ran before) and waits until it listens. */
  async start(timeoutMs = 15_000): Promise<this> {
    if (this.running) throw new Error('already running');
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await this.tryStart(deadline)) return this;
      // The old port may be briefly unavailable after a kill; try again.
      if (Date.now() > deadline) throw new Error(`server did not start:\n${this.log.slice(-30).join('\n')}`);
      await delay(100);
    }
  }

  private tryStart(deadline: number): Promise<boolean> {
    const proc = spawn(
      serverBinary(),
      ['serve', '--listen', `127.0.0.1:${this.port ?? 0}`, '--data-dir', this.dataDir, ...this.extraArgs],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'info' } },
    );
    this.proc = proc;
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (ok: boolean, error?: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error) reject(error);
        else resolve(ok);
      };
      const timer = setTimeout(() => {
        proc.kill('SIGKILL');
        settle(false, new Error(`server did not report listening in time:\n${this.log.slice(-30).join('\n')}`));
      }, Math.max(0, deadline - Date.now()));
      readline.createInterface({ input: proc.stderr! }).on('line', (line) => {
        this.log.push(line);
        const match = LISTENING.exec(line);
        if (match) {
          this.port = Number(match[2]);
          settle(true);
        }
      });
      proc.on('exit', () => settle(false));
      proc.on('error', (error) => settle(false, error));
    });
  }

  private async signal(signal: NodeJS.Signals, timeoutMs: number): Promise<boolean> {
    const proc = this.proc;
    if (!proc || !this.running) return true;
    const exited = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      proc.once('exit', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    proc.kill(signal);
    return exited;
  }

  /** SIGKILL: no shutdown, no final flush. */
  async kill(): Promise<void> {
    if (!(await this.signal('SIGKILL', 10_000))) throw new Error('server did not die');
  }

  /** SIGTERM, then SIGKILL if it does not stop within 10 s. */
  async stop(): Promise<void> {
    if (!(await this.signal('SIGTERM', 10_000))) await this.kill();
  }
}

/** Starts a server on a fresh data dir and a client to it; `close()` stops both. */
export async function startServer(extraArgs: string[] = []): Promise<Server> {
  return new Server(path.join(tempDir(), 'data'), extraArgs).start();
}

export function clientFor(server: Server, options: ClientOptions = {}): EventStreamClient {
  return new EventStreamClient(server.target, { publishRetry: TEST_RETRY, reconnect: TEST_RECONNECT, ...options });
}

/** Polls `check` every 50 ms until it returns true; fails after `timeoutMs`, naming `what`. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(50);
  }
}

/** Calls `target.close()` (or `stop()`) after `ms`: bounds a loop that could block. */
export function closeAfter(target: { close(): void } | { stop(): void }, ms: number): { cancel(): void } {
  const timer = setTimeout(() => ('stop' in target ? target.stop() : target.close()), ms);
  return { cancel: () => clearTimeout(timer) };
}

export interface LoseResponses {
  /** Publish calls (counted from 1) up to this number have their response lost. */
  count: number;
  /** The idempotency keys of every Publish attempt, in order. */
  attempts: string[][];
  /** Runs after the server handled a call whose response is then lost. */
  afterHandled?: () => Promise<void> | void;
}

/**
 * An interceptor that lets Publish calls reach the server and complete there, then throws the
 * response away and reports UNAVAILABLE, as if the connection broke on the way back.
 */
export function loseResponses(state: LoseResponses): grpc.Interceptor {
  return (options, nextCall) => {
    if (!options.method_definition.path.endsWith('/Publish')) return new grpc.InterceptingCall(nextCall(options));
    let lose = false;
    return new grpc.InterceptingCall(nextCall(options), {
      sendMessage(message: { events: { idempotencyKey: string }[] }, next) {
        state.attempts.push(message.events.map((event) => event.idempotencyKey));
        lose = state.attempts.length <= state.count;
        next(message);
      },
      start(metadata, _listener, next) {
        next(metadata, {
          // The message must be passed on (grpc-js holds the status back until it is); replacing
          // the OK status with an error is what makes the unary call fail.
          onReceiveStatus(status, nextStatus) {
            if (!lose || status.code !== grpc.status.OK) return nextStatus(status);
            void Promise.resolve(state.afterHandled?.()).then(() =>
              nextStatus({ code: grpc.status.UNAVAILABLE, details: 'injected: response lost', metadata: status.metadata }),
            );
          },
        });
      },
    });
  };
}
