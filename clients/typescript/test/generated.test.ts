/** The committed proto copy and generated types match what generate.sh makes from the proto. */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';

import { tempDir } from './helpers';

const PACKAGE = path.resolve(__dirname, '..', '..');
const CANONICAL = path.resolve(PACKAGE, '..', '..', 'proto');

function files(dir: string, base = dir): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? files(full, base) : [path.relative(base, full)];
  });
}

test('generated files are up to date', { timeout: 60_000, skip: !fs.existsSync(CANONICAL) && 'proto not available' }, () => {
  const out = tempDir();
  execFileSync(path.join(PACKAGE, 'generate.sh'), [out], { stdio: 'pipe' });
  for (const dir of ['proto', path.join('src', 'generated')]) {
    const fresh = files(path.join(out, dir)).sort();
    assert.deepEqual(files(path.join(PACKAGE, dir)).sort(), fresh, `${dir}: run clients/typescript/generate.sh`);
    for (const name of fresh) {
      assert.equal(
        fs.readFileSync(path.join(PACKAGE, dir, name), 'utf8'),
        fs.readFileSync(path.join(out, dir, name), 'utf8'),
        `${dir}/${name} is stale: run clients/typescript/generate.sh`,
      );
    }
  }
});
