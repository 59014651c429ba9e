/** Backoff policies for publish retries and subscription reconnects. */

/**
 * Exponential backoff with jitter, bounded by attempts and by total time.
 *
 * After the n-th consecutive failure (1-based) the pause is
 * `min(maxBackoffMs, initialBackoffMs * multiplier ** (n - 1))`, randomised by +-`jitter`.
 * Retrying stops after `maxAttempts` attempts (`null`: no limit) or once `totalTimeoutMs` passed
 * since the first failure (`null`: no limit).
 */
export interface RetryPolicy {
  maxAttempts: number | null;
  totalTimeoutMs: number | null;
  /** Deadline of one attempt (one unary RPC). Not used for subscription streams. */
  attemptTimeoutMs: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  multiplier: number;
  jitter: number;
}

/** Publish: up to 10 attempts within 30 s, each at most 10 s. */
export const DEFAULT_PUBLISH_RETRY: Readonly<RetryPolicy> = Object.freeze({
  maxAttempts: 10,
  totalTimeoutMs: 30_000,
  attemptTimeoutMs: 10_000,
  initialBackoffMs: 50,
  maxBackoffMs: 2_000,
  multiplier: 2,
  jitter: 0.2,
});

/**
 * Subscriptions: reconnect without an attempt limit, but give up after 60 s without a successful
 * (re)connection. The counters reset whenever a response arrives.
 */
export const DEFAULT_RECONNECT: Readonly<RetryPolicy> = Object.freeze({
  ...DEFAULT_PUBLISH_RETRY,
  maxAttempts: null,
  totalTimeoutMs: 60_000,
});

export function retryPolicy(base: Readonly<RetryPolicy>, overrides?: Partial<RetryPolicy>): RetryPolicy {
  return { ...base, ...overrides };
}

/** Milliseconds to wait after `failures` consecutive failures (>= 1). */
export function backoffMs(policy: RetryPolicy, failures: number): number {
  const base = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * policy.multiplier ** Math.max(0, failures - 1));
  return Math.max(0, base * (1 + (Math.random() * 2 - 1) * policy.jitter));
}

/** True when no further attempt may be made. */
export function exhausted(policy: RetryPolicy, failures: number, elapsedMs: number, nextPauseMs: number): boolean {
  if (policy.maxAttempts !== null && failures >= policy.maxAttempts) return true;
  return policy.totalTimeoutMs !== null && elapsedMs + nextPauseMs >= policy.totalTimeoutMs;
}

/** Resolves after `ms`, or early (resolving to false) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
