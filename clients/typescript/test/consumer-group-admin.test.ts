/** Consumer-group admin calls round-trip through the server. */

import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, test } from 'node:test';

import {
  AlreadyExistsError,
  FailedPreconditionError,
  GroupConsumer,
  IdempotencyConflictError,
  NotFoundError,
  OutOfRangeError,
  type EventStreamClient,
} from '../src';
import { clientFor, startServer, tempDir, waitFor, type Server } from './helpers';

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

test('create, get, list, reset and delete consumer groups', { timeout: 30_000 }, async () => {
  await client.createTopic('orders');
  await client.publish('orders', Array.from({ length: 5 }, (_, i) => ({ type: 'OrderPlaced', payload: String(i) })));

  const billing = await client.createConsumerGroup('orders', 'billing', { ackDeadlineMs: 10_000, maxDeliveries: 3, outOfRange: 'earliest' });
  assert.equal(billing.topic, 'orders');
  assert.equal(billing.name, 'billing');
  assert.equal(billing.ackDeadlineMs, 10_000);
  assert.equal(billing.maxDeliveries, 3);
  assert.equal(billing.deadLetterTopic, 'orders.billing.dead-letters', 'the default is filled in');
  assert.equal(billing.outOfRange, 'earliest');
  assert.equal(billing.ackFloor, 0n);
  assert.equal(billing.nextOffset, 5n);
  assert.equal(billing.lag, 5n);
  assert.equal(billing.members, 0);
  assert.equal(billing.inFlight, 0n);
  assert.equal(billing.redeliveries, 0n);
  assert.equal(billing.deadLettered, 0n);
  assert.equal(billing.skipped, 0n);
  assert.equal(billing.problem, '');
  assert.ok(billing.createTime.getTime() > Date.now() - 60_000);
  await assert.rejects(client.createConsumerGroup('orders', 'billing'), AlreadyExistsError);

  const audit = await client.createConsumerGroup('orders', 'audit', { latest: true });
  assert.equal(audit.ackFloor, 5n);
  assert.equal(audit.lag, 0n);
  assert.equal(audit.ackDeadlineMs, 30_000, 'default ack deadline');
  assert.equal(audit.maxDeliveries, 0);
  assert.equal(audit.outOfRange, 'fail', 'default policy');
  const named = await client.createConsumerGroup('orders', 'named', { maxDeliveries: 1, deadLetterTopic: 'order-failures' });
  assert.equal(named.deadLetterTopic, 'order-failures');
  assert.equal((await client.createConsumerGroup('orders', 'replay', { fromOffset: 3 })).ackFloor, 3n);

  assert.deepEqual(await client.getConsumerGroup('orders', 'billing'), billing);
  assert.deepEqual((await client.listConsumerGroups('orders')).map((group) => group.name), ['audit', 'billing', 'named', 'replay']);
  await client.createTopic('no-groups');
  assert.deepEqual(await client.listConsumerGroups('no-groups'), []);

  let reset = await client.resetConsumerGroup('orders', 'audit', { toOffset: 2n });
  assert.equal(reset.ackFloor, 2n);
  assert.equal(reset.lag, 3n);
  assert.equal((await client.resetConsumerGroup('orders', 'audit', { earliest: true })).ackFloor, 0n);
  assert.equal((await client.resetConsumerGroup('orders', 'audit', { latest: true })).ackFloor, 5n);
  reset = await client.resetConsumerGroup('orders', 'audit', { toTime: new Date(0) });
  assert.equal(reset.ackFloor, 0n);
  await assert.rejects(client.resetConsumerGroup('orders', 'audit', { toOffset: 99 }), OutOfRangeError);

  await client.deleteConsumerGroup('orders', 'audit');
  assert.deepEqual((await client.listConsumerGroups('orders')).map((group) => group.name), ['billing', 'named', 'replay']);
  await assert.rejects(client.getConsumerGroup('orders', 'audit'), NotFoundError);
  await assert.rejects(client.deleteConsumerGroup('orders', 'audit'), NotFoundError);
  await assert.rejects(client.resetConsumerGroup('orders', 'audit', { earliest: true }), NotFoundError);
});

test('reset is refused while a member is connected', { timeout: 30_000 }, async () => {
  await client.publish('jobs', [{ type: 'Job', payload: 'x' }]);
  await client.createConsumerGroup('jobs', 'workers');
  const consumer = new GroupConsumer(client, 'jobs', 'workers', path.join(tempDir(), 'processed.json'), async () => {});
  const running = consumer.run();
  try {
    await waitFor('the member to join', () => consumer.groupInfo !== undefined);
    const refused = await client.resetConsumerGroup('jobs', 'workers', { earliest: true }).then(
      () => assert.fail('reset with a member connected succeeded'),
      (error: unknown) => error,
    );
    assert.ok(refused instanceof FailedPreconditionError, String(refused));
    assert.ok(!(refused instanceof IdempotencyConflictError), 'that one is only for Publish');
  } finally {
    await consumer.stop();
  }
  await running;
  await waitFor('the member to leave', async () => (await client.getConsumerGroup('jobs', 'workers')).members === 0);
  assert.equal((await client.resetConsumerGroup('jobs', 'workers', { earliest: true })).ackFloor, 0n);
});
