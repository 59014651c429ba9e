/**
 * The ids of events a group consumer has handled, kept in a file until the server confirms their
 * acknowledgement as durable: after that the group never delivers them again, so the ids are
 * forgotten.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';

import { replaceFileDurably } from './durableFile';

interface Stored {
  version: 1;
  topic: string;
  group: string;
  /** Event id by offset (a decimal string). */
  processed: Record<string, string>;
}

/**
 * An in-memory set of processed event ids, mirrored to a JSON file that is replaced atomically.
 *
 * `record()` resolves once the id is durably in the file; records made while a write is running
 * share the next write. `forget()` changes only memory: the file catches up with the next write
 * (a forgotten id still in the file after a crash is dropped by `forgetBelow()` on the next join,
 * once the group's ack floor has passed it).
 */
export class ProcessedIds {
  readonly file: string;
  private readonly idByOffset = new Map<bigint, string>();
  private readonly ids = new Set<string>();
  /** Counts changes to the set; `persisted` is the count the file reflects. */
  private changes = 0;
  private persisted = 0;
  private writing: Promise<void> | undefined;

  constructor(
    file: string,
    readonly topic: string,
    readonly group: string,
  ) {
    this.file = path.resolve(file);
    const stored = this.load();
    if (stored === undefined) return;
    if (stored.topic !== topic || stored.group !== group) {
      throw new Error(`${this.file} belongs to group ${stored.group} of topic ${stored.topic}`);
    }
    for (const [offset, id] of Object.entries(stored.processed)) this.add(BigInt(offset), id);
  }

  get size(): number {
    return this.ids.size;
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }

  /** Adds the id and resolves once the file holds it durably. */
  async record(offset: bigint, id: string): Promise<void> {
    this.add(offset, id);
    this.changes += 1;
    await this.persist();
  }

  /** Forgets the id at `offset`, whose acknowledgement is durable. */
  forget(offset: bigint): void {
    const id = this.idByOffset.get(offset);
    if (id === undefined) return;
    this.idByOffset.delete(offset);
    this.ids.delete(id);
    this.changes += 1;
  }

  /** Forgets every id below the group's ack floor: all of those are durably acknowledged. */
  forgetBelow(ackFloor: bigint): void {
    for (const offset of [...this.idByOffset.keys()]) if (offset < ackFloor) this.forget(offset);
  }

  /** Writes pending changes (forgotten ids) to the file. */
  async flush(): Promise<void> {
    await this.persist();
  }

  private add(offset: bigint, id: string): void {
    this.idByOffset.set(offset, id);
    this.ids.add(id);
  }

  private async persist(): Promise<void> {
    const target = this.changes;
    while (this.persisted < target) {
      this.writing ??= this.write();
      await this.writing;
    }
  }

  private async write(): Promise<void> {
    const changes = this.changes;
    const stored: Stored = {
      version: 1,
      topic: this.topic,
      group: this.group,
      processed: Object.fromEntries([...this.idByOffset].map(([offset, id]) => [offset.toString(), id])),
    };
    try {
      await replaceFileDurably(this.file, JSON.stringify(stored));
      this.persisted = changes;
    } finally {
      this.writing = undefined;
    }
  }

  private load(): Stored | undefined {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    const stored = JSON.parse(text) as Stored;
    if (stored.version !== 1) throw new Error(`${this.file}: unknown version ${String(stored.version)}`);
    return stored;
  }
}
