import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  IdempotencyConflictError,
  InvalidArgumentError,
  OutOfRangeError,
  type EventStreamClient,
  type Event,
} from '../src';
import { clientFor, closeAfter, startServer, type Server } from './helpers';

let server: Server;
let client: EventStreamClient;

before(async () => {
  server = await startServer();
  client = clientFor(server);
});
after(async () => {
  client?.close();
  await server?.stop();
});

async function readAll(topic: string): Promise<Event[]> {
  const sub = client.subscribe(topic, { stopAtEnd: true });
  const guard = closeAfter(sub, 10_000);
  const events: Event[] = [];
  for await (const event of sub) events.push(event);
  guard.cancel();
  return events;
}

test('publish and subscribe roundtrip', { timeout: 30_000 }, async () => {
  const events = [
    { type: 'OrderPlaced', payload: '{"id":1}', key: 'order-1', headers: { trace: 't1' }, contentType: 'application/json', schemaVersion: 2 },
    { type: 'OrderPaid', payload: 'paid', key: 'order-1', idempotencyKey: 'my-key' },
    { type: 'OrderPlaced', payload: Buffer.from([0, 255, 1]), key: 'order-2' },
  ];
  const published = await client.publish('orders', events);
  assert.deepEqual(published.map((p) => p.offset), [0n, 1n, 2n]);
  assert.ok(published.every((p) => !p.duplicate));
  assert.equal(published[1]!.idempotencyKey, 'my-key');
  assert.match(published[0]!.idempotencyKey, /^[0-9a-f-]{36}$/);
  assert.equal((events[0] as { idempotencyKey?: string }).idempotencyKey, undefined, 'caller object untouched');

  const sub = client.subscribe('orders', { stopAtEnd: true });
  const got: Event[] = [];
  for await (const event of sub) got.push(event);
  assert.deepEqual(got.map((e) => e.offset), [0n, 1n, 2n]);
  assert.deepEqual(got.map((e) => e.id), published.map((p) => p.id));
  assert.equal(got[0]!.payload.toString(), '{"id":1}');
  assert.deepEqual(got[0]!.headers, { trace: 't1' });
  assert.equal(got[0]!.contentType, 'application/json');
  assert.equal(got[0]!.schemaVersion, 2);
  assert.equal(got[1]!.idempotencyKey, 'my-key');
  assert.deepEqual([...got[2]!.payload], [0, 255, 1]);
  assert.ok(got[0]!.time instanceof Date && got[0]!.time.getTime() > 0);
  assert.equal(sub.position, 3n);
  assert.equal(sub.caughtUp, true);

  // Same key and content: not appended again; the original result is repeated.
  const again = await client.publish('orders', [{ type: 'OrderPaid', payload: 'paid', idempotencyKey: 'my-key' }]);
  assert.equal(again[0]!.duplicate, true);
  assert.equal(again[0]!.offset, 1n);
  assert.equal(again[0]!.id, published[1]!.id);
  // Same key, other content: refused, nothing appended.
  await assert.rejects(client.publish('orders', [{ type: 'OrderPaid', payload: 'other', idempotencyKey: 'my-key' }]), IdempotencyConflictError);
  assert.equal((await client.getTopic('orders')).nextOffset, 3n);

  await assert.rejects(client.publish('orders', [{ type: '' }]), InvalidArgumentError);
  await assert.rejects(readAllFrom('orders', 99n), OutOfRangeError);
});

async function readAllFrom(topic: string, fromOffset: bigint): Promise<Event[]> {
  const events: Event[] = [];
  for await (const event of client.subscribe(topic, { fromOffset, stopAtEnd: true })) events.push(event);
  return events;
}

test('live subscription with a type filter', { timeout: 30_000 }, async () => {
  await client.publish('live', [{ type: 'Skip', payload: '0' }, { type: 'Keep', payload: '1' }]);
  const sub = client.subscribe('live', { types: ['Keep'] });
  const guard = closeAfter(sub, 15_000);
  const received: Event[] = [];
  let publishing: Promise<unknown> | undefined;
  for await (const event of sub) {
    received.push(event);
    if (received.length === 1) {
      assert.equal(sub.caughtUp, true);
      assert.equal(sub.position, 2n);
      publishing = client.publish('live', [
        { type: 'Skip', payload: '2' },
        { type: 'Keep', payload: '3' },
        { type: 'Skip', payload: '4' },
      ]);
    }
    if (received.length === 2) break;
  }
  guard.cancel();
  await publishing;
  assert.deepEqual(received.map((e) => [e.offset, e.payload.toString()]), [[1n, '1'], [3n, '3']]);

  // Starting at the end: the first response is empty and caught up.
  const latest = client.subscribe('live', { latest: true });
  const guard2 = closeAfter(latest, 10_000);
  for await (const batch of latest.batches()) {
    assert.deepEqual(batch.events, []);
    assert.equal(batch.caughtUp, true);
    assert.equal(batch.nextOffset, 5n);
    break;
  }
  guard2.cancel();
  assert.deepEqual((await readAll('live')).map((e) => e.offset), [0n, 1n, 2n, 3n, 4n]);
});
