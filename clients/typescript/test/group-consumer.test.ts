/** GroupConsumer against the real server: sharing, redelivery, processed ids, reconnects. */

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';

import {
  GroupConsumer,
  NotFoundError,
  type ConsumerGroupInfo,
  type Event,
  type EventStreamClient,
  type GroupConsumerOptions,
  type GroupHandler,
} from '../src';
import type { ConsumeRequest } from '../src/generated/eventstream/v1/ConsumeRequest';
import { clientFor, closeAfter, delay, startServer, tempDir, waitFor, type Server } from './helpers';

let server: Server;
let client: EventStreamClient;

beforeEach(async () => {
  server = await startServer();
  client = clientFor(server);
});
afterEach(async () => {
  client.close();
  await server.stop();
});

/** Runs `body` with a started consumer, then stops it and waits for run() to end. */
async function withConsumer(consumer: GroupConsumer, body: () => Promise<void>): Promise<void> {
  const running = consumer.run();
  try {
    await body();
  } finally {
    await consumer.stop();
  }
  await running;
}

function newConsumer(topic: string, file: string, handler: GroupHandler, options: GroupConsumerOptions = {}, via = client): GroupConsumer {
  return new GroupConsumer(via, topic, 'workers', file, handler, options);
}

function group(topic: string): Promise<ConsumerGroupInfo> {
  return client.getConsumerGroup(topic, 'workers');
}

function storedIds(file: string): string[] {
  return Object.values((JSON.parse(fs.readFileSync(file, 'utf8')) as { processed: Record<string, string> }).processed);
}

/** An interceptor that removes the ack of `offset` from every Consume request, as if it were lost. */
function dropAcksOf(offset: bigint): grpc.Interceptor {
  return (options, nextCall) => {
    if (!options.method_definition.path.endsWith('/Consume')) return new grpc.InterceptingCall(nextCall(options));
    return new grpc.InterceptingCall(nextCall(options), {
      sendMessage(message: ConsumeRequest, next) {
        next({ ...message, acks: (message.acks ?? []).filter((ack) => String(ack) !== offset.toString()) });
      },
    });
  };
}

test('two members share 200 events: each handled once, both get some', { timeout: 60_000 }, async () => {
  await client.createConsumerGroup('work', 'workers');
  const handledBy = new Map<bigint, string[]>();
  const keysInProgress = new Set<string>();
  const overlaps: string[] = [];
  const handler =
    (member: string): GroupHandler =>
    async (event) => {
      if (keysInProgress.has(event.key)) overlaps.push(`${event.key} at ${event.offset}`);
      keysInProgress.add(event.key);
      await delay(2);
      keysInProgress.delete(event.key);
      handledBy.set(event.offset, [...(handledBy.get(event.offset) ?? []), member]);
    };
  const dir = tempDir();
  const a = newConsumer('work', path.join(dir, 'a.json'), handler('a'), { concurrency: 4 });
  const b = newConsumer('work', path.join(dir, 'b.json'), handler('b'), { concurrency: 4 });
  const running = [a.run(), b.run()];
  let published: { id: string }[] = [];
  try {
    await waitFor('both members to join', async () => (await group('work')).members === 2);
    published = await client.publish(
      'work',
      Array.from({ length: 200 }, (_, i) => ({ type: 'Job', payload: String(i), key: `customer-${i % 20}` })),
    );
    await waitFor('200 events handled', () => handledBy.size === 200, 30_000);
    await waitFor('the group to acknowledge all 200', async () => (await group('work')).ackFloor === 200n);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
  await Promise.all(running);

  assert.deepEqual([...handledBy.keys()].sort((x, y) => Number(x - y)), Array.from({ length: 200 }, (_, i) => BigInt(i)));
  const twice = [...handledBy].filter(([, members]) => members.length > 1);
  assert.deepEqual(twice, [], 'no event handled twice');
  const byA = [...handledBy.values()].filter(([member]) => member === 'a').length;
  assert.ok(byA > 0 && byA < 200, `both members got some (a: ${byA}, b: ${200 - byA})`);
  assert.equal(a.counts.handled + b.counts.handled, 200);
  assert.deepEqual(overlaps, [], 'one key at a time');

  // Every ack was confirmed durable before stop() ended the streams, so no id is kept.
  for (const { id } of published) assert.ok(!a.isProcessed(id) && !b.isProcessed(id));
  assert.deepEqual(storedIds(a.file), []);
  assert.deepEqual(storedIds(b.file), []);
  await waitFor('both members to leave', async () => (await group('work')).members === 0);
  assert.equal((await group('work')).lag, 0n);
});

test('a handler that rejects once gets the event again, with attempt 2, after the retry delay', { timeout: 30_000 }, async () => {
  await client.createConsumerGroup('flaky', 'workers');
  await client.publish('flaky', Array.from({ length: 5 }, (_, i) => ({ type: 'Job', payload: String(i) })));
  const calls: { offset: bigint; attempt: number; at: number }[] = [];
  const errors: string[] = [];
  const consumer = newConsumer(
    'flaky',
    path.join(tempDir(), 'processed.json'),
    async (event, { attempt }) => {
      calls.push({ offset: event.offset, attempt, at: Date.now() });
      if (event.offset === 2n && attempt === 1) throw new Error('downstream unavailable');
    },
    { retryDelayMs: 300, onHandlerError: (error) => errors.push((error as Error).message) },
  );
  await withConsumer(consumer, async () => {
    await waitFor('5 events handled', () => consumer.counts.handled === 5);
  });

  const ofTwo = calls.filter((call) => call.offset === 2n);
  assert.deepEqual(ofTwo.map((call) => call.attempt), [1, 2]);
  assert.ok(ofTwo[1]!.at - ofTwo[0]!.at >= 300, `redelivered after ${ofTwo[1]!.at - ofTwo[0]!.at} ms, before the retry delay`);
  for (const offset of [0n, 1n, 3n, 4n]) {
    assert.deepEqual(calls.filter((call) => call.offset === offset).map((call) => call.attempt), [1], `offset ${offset}`);
  }
  assert.deepEqual(consumer.counts, { handled: 5, failed: 1, alreadyProcessed: 0 });
  assert.deepEqual(errors, ['downstream unavailable']);
  const described = await group('flaky');
  assert.equal(described.redeliveries, 1n);
  assert.equal(described.ackFloor, 5n);
});

test('after max deliveries the event goes to the dead-letter topic with the nack reason', { timeout: 30_000 }, async () => {
  await client.createConsumerGroup('payments', 'workers', { maxDeliveries: 2 });
  const published = await client.publish('payments', Array.from({ length: 3 }, (_, i) => ({ type: 'Payment', payload: `p${i}`, key: `k${i}` })));
  // 400 three-byte characters: the reason is cut to the proto's 1,024 bytes at a character boundary.
  const message = '€'.repeat(400);
  const attempts: number[] = [];
  const consumer = newConsumer('payments', path.join(tempDir(), 'processed.json'), async (event, { attempt }) => {
    if (event.offset !== 1n) return;
    attempts.push(attempt);
    throw new Error(message);
  });
  await withConsumer(consumer, async () => {
    await waitFor('the group to move past the poisoned event', async () => (await group('payments')).ackFloor === 3n);
  });
  assert.deepEqual(attempts, [1, 2]);
  assert.equal((await group('payments')).deadLettered, 1n);

  const sub = client.subscribe('payments.workers.dead-letters', { stopAtEnd: true });
  const guard = closeAfter(sub, 10_000);
  const dead: Event[] = [];
  for await (const event of sub) dead.push(event);
  guard.cancel();
  assert.equal(dead.length, 1);
  assert.equal(dead[0]!.payload.toString(), 'p1');
  assert.equal(dead[0]!.key, 'k1');
  assert.equal(dead[0]!.type, 'Payment');
  assert.equal(dead[0]!.headers['eventstream-dead-letter-topic'], 'payments');
  assert.equal(dead[0]!.headers['eventstream-dead-letter-offset'], published[1]!.offset.toString());
  assert.equal(dead[0]!.headers['eventstream-dead-letter-group'], 'workers');
  assert.equal(dead[0]!.headers['eventstream-dead-letter-attempts'], '2');
  assert.equal(dead[0]!.headers['eventstream-dead-letter-reason'], '€'.repeat(341));
});

test('a redelivered event already recorded as processed is acked without running the handler again', { timeout: 30_000 }, async () => {
  await client.createConsumerGroup('mail', 'workers');
  const published = await client.publish('mail', Array.from({ length: 5 }, (_, i) => ({ type: 'SendMail', payload: String(i) })));
  const calls = new Map<bigint, number>();
  const handler: GroupHandler = async (event) => void calls.set(event.offset, (calls.get(event.offset) ?? 0) + 1);
  const file = path.join(tempDir(), 'processed.json');
  const lostAck = published[2]!;

  // The first member handles everything, but its ack of offset 2 never reaches the server. (It
  // holds up to 5 deliveries, so the unacknowledged one does not stop the others from coming.)
  const lossy = clientFor(server, { interceptors: [dropAcksOf(lostAck.offset)] });
  const first = newConsumer('mail', file, handler, { maxInFlight: 5, stopTimeoutMs: 500 }, lossy);
  try {
    await withConsumer(first, async () => {
      await waitFor('all but the lost ack acknowledged', async () => (await group('mail')).lag === 1n);
    });
  } finally {
    lossy.close();
  }
  assert.equal(calls.size, 5);
  assert.ok(first.isProcessed(lostAck.id));
  assert.deepEqual(storedIds(file), [lostAck.id], 'only the unconfirmed ack is kept');

  // A new member on the same file gets offset 2 again (its member left without acking it).
  const second = newConsumer('mail', file, handler);
  assert.ok(second.isProcessed(lostAck.id), 'loaded from the file');
  await withConsumer(second, async () => {
    await waitFor('the redelivery to be acknowledged', async () => (await group('mail')).ackFloor === 5n);
    await waitFor('the id to be forgotten once its ack is durable', () => !second.isProcessed(lostAck.id));
  });
  assert.deepEqual([...calls.values()], [1, 1, 1, 1, 1], 'every handler ran once');
  assert.deepEqual(second.counts, { handled: 0, failed: 0, alreadyProcessed: 1 });
  assert.equal((await group('mail')).redeliveries, 1n);
  assert.deepEqual(storedIds(file), []);
});

test('a lost ack is redelivered after the ack deadline and acked from the record', { timeout: 30_000 }, async () => {
  await client.createConsumerGroup('mail', 'workers', { ackDeadlineMs: 1_000 });
  const published = await client.publish('mail', Array.from({ length: 3 }, (_, i) => ({ type: 'SendMail', payload: String(i) })));
  const calls: bigint[] = [];
  const lossy = clientFor(server, { interceptors: [dropAcksOf(1n)] });
  const consumer = newConsumer(
    'mail',
    path.join(tempDir(), 'processed.json'),
    async (event) => void calls.push(event.offset),
    { maxInFlight: 3, stopTimeoutMs: 500 },
    lossy,
  );
  try {
    await withConsumer(consumer, async () => {
      await waitFor('all 3 handled and offset 1 redelivered', () => calls.length === 3 && consumer.counts.alreadyProcessed > 0);
    });
  } finally {
    lossy.close();
  }
  // Its ack was lost again, so the server still holds it; but the handler ran once.
  assert.deepEqual(calls, [0n, 1n, 2n]);
  assert.ok(consumer.isProcessed(published[1]!.id));
  assert.ok((await group('mail')).redeliveries >= 1n);
});

test('ack deadlines are extended while a slow handler runs', { timeout: 30_000 }, async () => {
  await client.createConsumerGroup('slow', 'workers', { ackDeadlineMs: 1_000 });
  await client.publish('slow', [{ type: 'Job', payload: 'slow' }]);
  const attempts: number[] = [];
  const consumer = newConsumer('slow', path.join(tempDir(), 'processed.json'), async (_event, { attempt }) => {
    attempts.push(attempt);
    await delay(3_000); // three deadlines
  });
  await withConsumer(consumer, async () => {
    await waitFor('the slow event handled', () => consumer.counts.handled === 1);
  });
  assert.deepEqual(attempts, [1], 'not redelivered while the handler ran');
  const described = await group('slow');
  assert.equal(described.redeliveries, 0n);
  assert.equal(described.ackFloor, 1n);
});

test('a member rejoins after a server crash and a graceful restart; every event is handled once', { timeout: 60_000 }, async () => {
  await client.createConsumerGroup('restart', 'workers');
  await client.publish('restart', Array.from({ length: 60 }, (_, i) => ({ type: 'Job', payload: String(i), key: `k${i % 6}` })));
  const calls = new Map<bigint, number>();
  const consumer = newConsumer(
    'restart',
    path.join(tempDir(), 'processed.json'),
    async (event) => {
      await delay(20);
      calls.set(event.offset, (calls.get(event.offset) ?? 0) + 1);
    },
    { concurrency: 3 },
  );
  await withConsumer(consumer, async () => {
    await waitFor('some events handled', () => calls.size >= 15);
    await server.kill();
    await server.start();
    await waitFor('more events handled', () => calls.size >= 35, 30_000);
    await server.stop();
    await server.start();
    await waitFor('all 60 events handled', () => calls.size === 60, 30_000);
    await waitFor('the group to acknowledge all 60', async () => (await group('restart')).ackFloor === 60n, 20_000);
  });
  assert.ok(consumer.reconnects >= 2);
  assert.deepEqual([...calls].filter(([, count]) => count > 1), [], 'no event handled twice');
});

test('stop() gives back deliveries not yet started and ends the stream', { timeout: 30_000 }, async () => {
  await client.createConsumerGroup('backlog', 'workers');
  await client.publish('backlog', Array.from({ length: 10 }, (_, i) => ({ type: 'Job', payload: String(i) })));
  let release: () => void = () => {};
  const blocked = new Promise<void>((resolve) => (release = resolve));
  const seen: bigint[] = [];
  const consumer = newConsumer(
    'backlog',
    path.join(tempDir(), 'processed.json'),
    async (event) => {
      seen.push(event.offset);
      await blocked;
    },
    { concurrency: 1, maxInFlight: 5 },
  );
  const running = consumer.run();
  await waitFor('the first event in the handler', () => seen.length === 1);
  await waitFor('the prefetch to arrive', async () => (await group('backlog')).inFlight === 5n);
  const stopped = consumer.stop();
  release();
  await stopped;
  await running;
  assert.deepEqual(seen, [0n], 'nothing started after stop()');
  await waitFor('the member to leave', async () => (await group('backlog')).members === 0);
  const described = await group('backlog');
  assert.equal(described.ackFloor, 1n);
  assert.equal(described.inFlight, 0n);
});

test('joining creates a missing group; deleting it ends run() with NotFoundError', { timeout: 30_000 }, async () => {
  await client.publish('ad-hoc', [{ type: 'Job', payload: 'x' }]);
  const consumer = newConsumer('ad-hoc', path.join(tempDir(), 'processed.json'), async () => {});
  const running = consumer.run();
  try {
    await waitFor('the event handled', () => consumer.counts.handled === 1);
    assert.equal(consumer.groupInfo?.name, 'workers');
    assert.equal(consumer.groupInfo?.ackDeadlineMs, 30_000, 'created with default settings');
    await client.deleteConsumerGroup('ad-hoc', 'workers');
    await assert.rejects(running, NotFoundError);
  } finally {
    await consumer.stop();
  }
});
