/**
 * TLS with client certificates and token auth against a real server. The certificates come from
 * tests/clients.rs, which makes them at run time and passes their directory as
 * EVENTSTREAM_TEST_TLS_DIR (ca.pem, server.pem/.key, client.pem/.key, and stranger.pem/.key from
 * another CA).
 */

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';

import {
  EventStreamClient,
  PermissionDeniedError,
  UnauthenticatedError,
  UnavailableError,
  tlsCredentials,
  type Event,
} from '../src';
import { Server, TEST_RECONNECT, closeAfter, tempDir } from './helpers';

const ADMIN = 'es_typescript-admin-token';
const READER = 'es_typescript-reader-token';
const tlsDir = process.env.EVENTSTREAM_TEST_TLS_DIR;
const skip = tlsDir ? false : 'EVENTSTREAM_TEST_TLS_DIR is not set (tests/clients.rs sets it)';

const sha256 = (token: string): string => createHash('sha256').update(token).digest('hex');

let server: Server;

before(async () => {
  if (!tlsDir) return;
  const dir = tempDir();
  const auth = path.join(dir, 'auth.toml');
  fs.writeFileSync(
    auth,
    `[[token]]\nname = "admin"\nsha256 = "${sha256(ADMIN)}"\nadmin = ["*"]\npublish = ["*"]\nsubscribe = ["*"]\n\n` +
      `[[token]]\nname = "reader"\nsha256 = "${sha256(READER)}"\nsubscribe = ["orders.*"]\n`,
  );
  server = await new Server(path.join(dir, 'data'), [
    `--tls-cert=${path.join(tlsDir, 'server.pem')}`,
    `--tls-key=${path.join(tlsDir, 'server.key')}`,
    `--tls-client-ca=${path.join(tlsDir, 'ca.pem')}`,
    `--auth-file=${auth}`,
  ]).start();
});
after(async () => {
  await server?.stop();
});

/** A client of the TLS server presenting `identity`'s certificate (none if null). */
function connect(token: string | undefined, identity: string | null = 'client'): EventStreamClient {
  const file = (name: string): string => path.join(tlsDir!, name);
  const credentials = tlsCredentials({
    caCert: file('ca.pem'),
    ...(identity === null ? {} : { clientCert: file(`${identity}.pem`), clientKey: file(`${identity}.key`) }),
  });
  return new EventStreamClient(`localhost:${server.port}`, {
    credentials,
    token,
    // A refused handshake surfaces as UNAVAILABLE: give up quickly.
    publishRetry: { maxAttempts: 2, totalTimeoutMs: 5_000, attemptTimeoutMs: 2_000, maxBackoffMs: 200 },
    reconnect: TEST_RECONNECT,
  });
}

test('TLS with a client certificate and a token', { skip, timeout: 30_000 }, async () => {
  const admin = connect(ADMIN);
  const reader = connect(READER);
  try {
    await admin.createTopic('payments');
    const [published] = await admin.publish('orders.eu', [{ type: 'Placed', payload: '1' }]);
    const sub = reader.subscribe('orders.eu', { fromOffset: published.offset, stopAtEnd: true });
    const guard = closeAfter(sub, 10_000);
    const events: Event[] = [];
    for await (const event of sub) events.push(event);
    guard.cancel();
    assert.deepEqual(
      events.map((event) => event.type),
      ['Placed'],
    );
    assert.deepEqual(
      (await reader.listTopics()).map((topic) => topic.name),
      ['orders.eu'],
    );
    await assert.rejects(reader.publish('orders.eu', [{ type: 'Placed', payload: '2' }]), PermissionDeniedError);
    await assert.rejects(reader.getTopic('payments'), PermissionDeniedError);
  } finally {
    admin.close();
    reader.close();
  }
});

test('the token comes from EVENTSTREAM_TOKEN unless given', { skip, timeout: 30_000 }, async () => {
  process.env.EVENTSTREAM_TOKEN = ADMIN;
  const fromEnv = connect(undefined);
  const anonymous = connect('');
  const wrong = connect('es_wrong');
  try {
    const [published] = await fromEnv.publish('orders.us', [{ type: 'Placed', payload: '1' }]);
    assert.equal(published.offset, 0n);
    await assert.rejects(anonymous.listTopics(), UnauthenticatedError);
    await assert.rejects(wrong.listTopics(), UnauthenticatedError);
  } finally {
    delete process.env.EVENTSTREAM_TOKEN;
    fromEnv.close();
    anonymous.close();
    wrong.close();
  }
});

test('clients without a certificate from the CA are refused', { skip, timeout: 30_000 }, async () => {
  for (const identity of [null, 'stranger']) {
    const client = connect(ADMIN, identity);
    try {
      await assert.rejects(client.listTopics(), UnavailableError, `identity ${identity}`);
    } finally {
      client.close();
    }
  }
});
