/**
 * A durable consumer in its own process, for the crash test.
 *
 * Usage: node consumer-proc.js TARGET STATE_FILE WORK_DIR CRASH_OFFSET
 * Consumes topic "jobs" until caught up. The handler appends the event to `state.handled`
 * (committed with the position) and logs each attempt to WORK_DIR/attempts.log (outside the
 * commit). If WORK_DIR/armed exists when the event at CRASH_OFFSET is handled, it creates
 * WORK_DIR/in-handler and waits to be killed.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';

import { DurableConsumer } from '../src';
import { TEST_RECONNECT, TEST_RETRY, delay } from './helpers';
import { EventStreamClient } from '../src';

interface JobState {
  handled: { id: string; offset: string; payload: string }[];
}

async function main(): Promise<void> {
  const [target, stateFile, work, crashOffset] = process.argv.slice(2) as [string, string, string, string];
  const client = new EventStreamClient(target, { publishRetry: TEST_RETRY, reconnect: TEST_RECONNECT });
  const consumer = new DurableConsumer<JobState>(
    client,
    'jobs',
    stateFile,
    async (event, context) => {
      const fd = fs.openSync(path.join(work, 'attempts.log'), 'a');
      fs.writeSync(fd, `${event.offset} ${event.id}\n`);
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      context.state.handled.push({ id: event.id, offset: event.offset.toString(), payload: event.payload.toString() });
      if (event.offset === BigInt(crashOffset) && fs.existsSync(path.join(work, 'armed'))) {
        fs.writeFileSync(path.join(work, 'in-handler'), '');
        await delay(60_000); // killed here
      }
    },
    { name: 'proc', initialState: { handled: [] } },
  );
  const count = await consumer.run({ untilCaughtUp: true });
  console.log(`handled ${count} position ${consumer.position}`);
  client.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
