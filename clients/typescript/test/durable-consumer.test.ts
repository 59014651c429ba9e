/** The durable consumer handles every event exactly once across crashes. */

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { promisify } from 'node:util';

import { DurableConsumer, type EventStreamClient } from '../src';
import { clientFor, closeAfter, delay, startServer, tempDir, type Server } from './helpers';

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

class Boom extends Error {}

interface Ledger {
  amounts: number[];
}

test('a failing handler commits nothing and the event is handled again on restart', { timeout: 30_000 }, async () => {
  await client.publish('ledger', Array.from({ length: 10 }, (_, i) => ({ type: 'Credit', payload: String(i) })));
  const file = path.join(tempDir(), 'consumer.json');
  const calls: number[] = [];
  let failAt: number | undefined = 6;
  const handler = (event: { offset: bigint; payload: Buffer }, context: { state: Ledger }): void => {
    calls.push(Number(event.offset));
    context.state.amounts.push(Number(event.payload.toString()));
    if (Number(event.offset) === failAt) {
      failAt = undefined;
      throw new Boom('crash in the middle of event 6');
    }
  };

  const first = new DurableConsumer<Ledger>(client, 'ledger', file, handler, { initialState: { amounts: [] } });
  await assert.rejects(first.run({ untilCaughtUp: true }), Boom);
  assert.equal(first.position, 6n); // 0..5 committed; 6 was not
  assert.deepEqual(first.state.amounts, [0, 1, 2, 3, 4, 5]);

  // "Restart": a new consumer on the same file resumes at 6.
  const second = new DurableConsumer<Ledger>(client, 'ledger', file, handler, { initialState: { amounts: [] } });
  assert.equal(second.position, 6n);
  assert.equal(await second.run({ untilCaughtUp: true }), 4);
  assert.deepEqual(calls, [0, 1, 2, 3, 4, 5, 6, 6, 7, 8, 9]);
  assert.deepEqual(second.state.amounts, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(second.position, 10n);

  // Later events only.
  await client.publish('ledger', [{ type: 'Credit', payload: '10' }]);
  assert.equal(await second.run({ untilCaughtUp: true }), 1);
  assert.equal(calls.at(-1), 10);

  // The processed ids guard even if the position is rewound by hand.
  const stored = JSON.parse(fs.readFileSync(file, 'utf8'));
  stored.position = '0';
  fs.writeFileSync(file, JSON.stringify(stored));
  const third = new DurableConsumer<Ledger>(client, 'ledger', file, handler);
  assert.equal(await third.run({ untilCaughtUp: true }), 0);
  assert.equal(third.position, 11n);
  assert.equal(calls.length, 12);
  assert.deepEqual(fs.readdirSync(path.dirname(file)), ['consumer.json'], 'no temp files left');
});

test('a consumer killed mid-event handles each event exactly once', { timeout: 60_000 }, async () => {
  const published = await client.publish('jobs', Array.from({ length: 20 }, (_, i) => ({ type: 'Job', payload: `job-${i}` })));
  const dir = tempDir();
  const work = path.join(dir, 'work');
  fs.mkdirSync(work);
  const file = path.join(dir, 'consumer.json');
  fs.writeFileSync(path.join(work, 'armed'), '');
  const script = path.join(__dirname, 'consumer-proc.js');
  const args = [script, server.target, file, work, '7'];

  const firstRun = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  firstRun.stdout.on('data', (chunk) => (output += chunk));
  firstRun.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise((resolve) => firstRun.once('exit', resolve));
  try {
    const deadline = Date.now() + 30_000;
    while (!fs.existsSync(path.join(work, 'in-handler'))) {
      assert.equal(firstRun.exitCode, null, `consumer exited early: ${output}`);
      assert.ok(Date.now() < deadline, 'consumer never reached event 7');
      await delay(20);
    }
    firstRun.kill('SIGKILL'); // while handling event 7
    await exited;
  } finally {
    if (firstRun.exitCode === null) firstRun.kill('SIGKILL');
  }
  fs.unlinkSync(path.join(work, 'armed'));

  // The server restarts too, and more events arrive meanwhile.
  await server.kill();
  await server.start();
  await client.publish('jobs', Array.from({ length: 5 }, (_, i) => ({ type: 'Job', payload: `job-${20 + i}` })));

  const second = await promisify(execFile)(process.execPath, [script, server.target, file, work, '7'], { timeout: 30_000 });
  assert.match(second.stdout, /handled 18 position 25/); // 7..24

  const stored = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    position: string;
    state: { handled: { id: string; offset: string; payload: string }[] };
  };
  assert.equal(stored.position, '25');
  assert.deepEqual(
    stored.state.handled.map((h) => [h.offset, h.payload]),
    Array.from({ length: 25 }, (_, i) => [String(i), `job-${i}`]),
  );
  assert.deepEqual(stored.state.handled.slice(0, 20).map((h) => h.id), published.map((p) => p.id));
  const attempts = new Map<number, number>();
  for (const line of fs.readFileSync(path.join(work, 'attempts.log'), 'utf8').trim().split('\n')) {
    const offset = Number(line.split(' ')[0]);
    attempts.set(offset, (attempts.get(offset) ?? 0) + 1);
  }
  assert.equal(attempts.get(7), 2, 'started before the kill, redone after');
  for (let i = 0; i < 25; i++) if (i !== 7) assert.equal(attempts.get(i), 1, `event ${i}`);
});

test('stop() ends a live run; the start position is stored', { timeout: 30_000 }, async () => {
  const seen: bigint[] = [];
  const file = path.join(tempDir(), 'c.json');
  const consumer = new DurableConsumer(client, 'idle', file, (event) => void seen.push(event.offset), { latest: true });
  await client.publish('idle', [{ type: 'Old', payload: 'x' }]);
  const guard = closeAfter(consumer, 1_000);
  assert.equal(await consumer.run(), 0); // live, nothing new: stopped by the timer
  guard.cancel();
  assert.equal(consumer.position, 1n);
  await client.publish('idle', [{ type: 'New', payload: 'y' }]);
  assert.equal(await consumer.run({ untilCaughtUp: true }), 1);
  assert.deepEqual(seen, [1n]);
});
