/** A subscription carries on across server crashes and restarts with no loss and no repeat. */

import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';

import type { Event, EventStreamClient } from '../src';
import { clientFor, closeAfter, delay, startServer, type Server } from './helpers';

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

const SIZE = 200_000; // history spans several responses (about 1 MiB each)
const payload = (i: number): Buffer => Buffer.from(String(i).padStart(8, '0').repeat(SIZE / 8));
const events = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, k) => ({ type: 'E', payload: payload(from + k) }));

test('resume across kill -9, restart and graceful shutdown', { timeout: 60_000 }, async () => {
  await client.publish('stream', events(0, 20));
  const sub = client.subscribe('stream', { fromOffset: 0 });
  const guard = closeAfter(sub, 50_000);
  const received: Event[] = [];
  const positions: (bigint | undefined)[] = [];
  const caughtUpAt: number[] = [];
  const background: Promise<unknown>[] = [];

  const crashRestartPublish = async (from: number, to: number): Promise<void> => {
    await server.kill();
    await delay(300);
    await server.start();
    await client.publish('stream', events(from, to));
  };

  for await (const event of sub) {
    received.push(event);
    positions.push(sub.position);
    if (sub.caughtUp) caughtUpAt.push(received.length);
    if (received.length === 5) await crashRestartPublish(20, 30); // mid-history
    if (received.length === 30) background.push(crashRestartPublish(30, 40)); // idle, live
    if (received.length === 40) {
      // A graceful shutdown ends the stream with UNAVAILABLE.
      background.push(
        (async () => {
          await server.stop();
          await server.start();
          await client.publish('stream', events(40, 45));
        })(),
      );
    }
    if (received.length === 45) break;
  }
  guard.cancel();
  await Promise.all(background);

  assert.deepEqual(received.map((e) => Number(e.offset)), Array.from({ length: 45 }, (_, i) => i));
  received.forEach((e, i) => assert.ok(e.payload.equals(payload(i)), `payload ${i}`));
  assert.deepEqual(positions, Array.from({ length: 45 }, (_, i) => BigInt(i + 1)));
  assert.ok(sub.reconnects >= 3, `reconnects: ${sub.reconnects}`);
  assert.ok(caughtUpAt.includes(30) && caughtUpAt.includes(40), `caught up at ${caughtUpAt}`);
});

test('resume from a stored position', { timeout: 30_000 }, async () => {
  await client.publish('resume', Array.from({ length: 10 }, (_, i) => ({ type: 'E', payload: String(i) })));
  const first = client.subscribe('resume');
  const taken: Event[] = [];
  for await (const event of first) {
    taken.push(event);
    if (taken.length === 4) break;
  }
  assert.equal(first.position, 4n);
  const rest: Event[] = [];
  for await (const event of client.subscribe('resume', { fromOffset: first.position, stopAtEnd: true })) rest.push(event);
  assert.deepEqual([...taken, ...rest].map((e) => e.payload.toString()), Array.from({ length: 10 }, (_, i) => String(i)));
});
