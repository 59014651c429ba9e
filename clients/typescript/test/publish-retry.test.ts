/** Publish retries reuse the idempotency keys, so a lost response never appends twice. */

import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';

import { InvalidArgumentError, UnavailableError, type Event, type EventStreamClient } from '../src';
import { clientFor, delay, loseResponses, startServer, type LoseResponses, type Server } from './helpers';

let server: Server;
const clients: EventStreamClient[] = [];

beforeEach(async () => {
  server = await startServer();
});
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await server.stop();
});

function client(lose?: LoseResponses, publishRetry?: object): EventStreamClient {
  const c = clientFor(server, {
    interceptors: lose ? [loseResponses(lose)] : [],
    ...(publishRetry ? { publishRetry } : {}),
  });
  clients.push(c);
  return c;
}

async function readAll(c: EventStreamClient, topic: string): Promise<Event[]> {
  const events: Event[] = [];
  for await (const event of c.subscribe(topic, { stopAtEnd: true })) events.push(event);
  return events;
}

test('a lost response is retried with the same keys and not appended twice', { timeout: 30_000 }, async () => {
  const lose: LoseResponses = { count: 2, attempts: [] };
  const c = client(lose);
  const published = await c.publish('pay', [0, 1, 2].map((i) => ({ type: 'Paid', payload: String(i) })));
  // Attempts 1 and 2 were appended once and their responses lost; attempt 3 succeeded.
  assert.equal(lose.attempts.length, 3);
  assert.deepEqual(lose.attempts[1], lose.attempts[0]);
  assert.deepEqual(lose.attempts[2], lose.attempts[0]);
  assert.ok(lose.attempts[0]!.every((key) => key.length > 0));
  assert.deepEqual(published.map((p) => p.idempotencyKey), lose.attempts[0]);
  assert.deepEqual(published.map((p) => p.offset), [0n, 1n, 2n]);
  assert.ok(published.every((p) => p.duplicate), 'the server recognised the keys');

  assert.equal((await c.getTopic('pay')).nextOffset, 3n);
  const events = await readAll(c, 'pay');
  assert.deepEqual(events.map((e) => e.payload.toString()), ['0', '1', '2']);
  assert.deepEqual(events.map((e) => e.id), published.map((p) => p.id));
});

test('retry after the server was killed once the publish was appended', { timeout: 30_000 }, async () => {
  let restarting: Promise<unknown> | undefined;
  const lose: LoseResponses = {
    count: 0,
    attempts: [],
    afterHandled: async () => {
      await server.kill();
      restarting = delay(300).then(() => server.start());
    },
  };
  const c = client(lose);
  await c.publish('acct', [{ type: 'Opened', payload: 'a' }]);
  lose.count = 2; // lose the response of the next attempt
  const published = await c.publish('acct', [
    { type: 'Deposited', payload: '10' },
    { type: 'Deposited', payload: '20' },
  ]);
  await restarting;
  // Attempt 1 appended then lost; attempts while the server was down were refused; the first
  // attempt on the restarted server got the original results. All with the same keys.
  const retries = lose.attempts.slice(1);
  assert.ok(retries.length >= 2);
  assert.equal(new Set(retries.map((keys) => keys.join(','))).size, 1);
  assert.deepEqual(published.map((p) => p.offset), [1n, 2n]);
  assert.ok(published.every((p) => p.duplicate));
  assert.equal((await c.getTopic('acct')).nextOffset, 3n);
  assert.deepEqual((await readAll(c, 'acct')).map((e) => e.payload.toString()), ['a', '10', '20']);
});

test('publish waits for a server that is down', { timeout: 30_000 }, async () => {
  const c = client();
  await c.publish('down', [{ type: 'E', payload: 'before' }]);
  await server.kill();
  const restarting = delay(1000).then(() => server.start());
  const started = Date.now();
  const published = await c.publish('down', [{ type: 'E', payload: 'after' }]);
  await restarting;
  assert.ok(Date.now() - started >= 900);
  assert.equal(published[0]!.offset, 1n);
  assert.equal(published[0]!.duplicate, false);
  assert.deepEqual((await readAll(c, 'down')).map((e) => e.payload.toString()), ['before', 'after']);
});

test('retries are bounded and permanent errors are not retried', { timeout: 30_000 }, async () => {
  const lose: LoseResponses = { count: 100, attempts: [] };
  const c = client(lose, { maxAttempts: 3, totalTimeoutMs: 5_000, initialBackoffMs: 10 });
  await assert.rejects(c.publish('bounded', [{ type: 'E', payload: 'x' }]), UnavailableError);
  assert.equal(lose.attempts.length, 3);
  assert.equal((await c.getTopic('bounded')).nextOffset, 1n, 'same key on all attempts: appended once');

  lose.attempts.length = 0;
  await assert.rejects(c.publish('bounded', [{ type: '' }]), InvalidArgumentError);
  assert.equal(lose.attempts.length, 1);
});
