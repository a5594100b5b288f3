import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { FleetError } from '../../../errors.js';

/**
 * Where the authorization server keeps its state: registered clients, pending
 * sign-ins, authorization codes, grants, refresh tokens and the signing keys.
 * Secrets are never stored as given: codes, refresh tokens and client secrets
 * are stored by SHA-256 digest, signing keys encrypted (see `secrets.ts`).
 */

/** The kinds of record; each kind is its own key space. */
export type RecordKind = 'client' | 'pending' | 'code' | 'grant' | 'keys';

/** One stored record: JSON data, an expiry, and a version for compare-and-set. */
export interface StoredRecord<T = unknown> {
  /** The data (JSON-serialisable). */
  readonly data: T;
  /** Epoch milliseconds after which the record is gone. */
  readonly expiresAt: number;
  /** Incremented on each write; 1 for a new record. */
  readonly version: number;
  /** Epoch milliseconds of the first {@link AuthStore.consume}; undefined while unconsumed. */
  readonly consumedAt?: number;
}

/** Condition of a {@link AuthStore.put}. */
export type PutCondition = { readonly ifAbsent: true } | { readonly ifVersion: number };

/** The result of {@link AuthStore.consume}. */
export interface Consumed<T> {
  /** The record as it was before this call. */
  readonly record: StoredRecord<T>;
  /** True for the one caller that consumed it first; false for every later one (a replay). */
  readonly first: boolean;
}

/** The store behind the authorization server. Every method is atomic per record. */
export interface AuthStore {
  /** The record, or undefined when absent or expired. */
  get<T>(kind: RecordKind, id: string): Promise<StoredRecord<T> | undefined>;
  /**
   * Writes a record. With a condition, writes only if it holds (absent, or still at
   * that version) and returns false otherwise. The version written is the old one + 1.
   */
  put<T>(kind: RecordKind, id: string, data: T, expiresAt: number, condition?: PutCondition): Promise<boolean>;
  /**
   * Marks a record consumed and returns it, telling whether this call was the first
   * (single-use codes and refresh tokens: a second use is a replay). Undefined when absent or expired.
   */
  consume<T>(kind: RecordKind, id: string): Promise<Consumed<T> | undefined>;
  /** Removes a record (no error when absent). */
  delete(kind: RecordKind, id: string): Promise<void>;
  /** Releases connections and timers. */
  close(): Promise<void>;
}

interface FileImage {
  readonly version: 1;
  readonly records: Record<string, StoredRecord & { readonly kind: RecordKind }>;
}

/** Options of {@link FileAuthStore}. */
export interface FileAuthStoreOptions {
  /** Clock. @default Date.now */
  readonly now?: () => number;
}

/**
 * A store in one local JSON file, for one gateway process. The whole state is held
 * in memory; every change rewrites the file (written to a temporary file and
 * renamed, mode 0600), so a crash leaves the old or the new state, never half.
 */
export class FileAuthStore implements AuthStore {
  private readonly records = new Map<string, StoredRecord & { kind: RecordKind }>();
  private readonly now: () => number;
  private writes = 0;

  constructor(
    private readonly path: string,
    options: FileAuthStoreOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    let text: string | undefined;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new FleetError('AUTH_STORE_UNREADABLE', `cannot read the authorization server's store ${path}`, {
          cause: error,
          hint: 'Check that the gateway may read and write it (authorizationServer.store.path).',
        });
      }
    }
    if (text !== undefined) {
      let image: FileImage;
      try {
        image = JSON.parse(text) as FileImage;
        if (image.version !== 1 || typeof image.records !== 'object') throw new Error('not an mcp-fleet auth store (version 1)');
      } catch (error) {
        throw new FleetError('AUTH_STORE_UNREADABLE', `the authorization server's store ${path} is not valid`, {
          cause: error,
          hint: 'Move it away to start with an empty store (every client then signs in again).',
        });
      }
      const now = this.now();
      for (const [key, record] of Object.entries(image.records)) {
        if (record.expiresAt > now) this.records.set(key, { ...record });
      }
    }
    // Fail at start, not at the first sign-in, when the file cannot be written.
    this.flush();
  }

  /** Number of writes to the file since start (for tests). */
  get fileWrites(): number {
    return this.writes;
  }

  get<T>(kind: RecordKind, id: string): Promise<StoredRecord<T> | undefined> {
    return Promise.resolve(this.live(kind, id) as StoredRecord<T> | undefined);
  }

  put<T>(kind: RecordKind, id: string, data: T, expiresAt: number, condition?: PutCondition): Promise<boolean> {
    const current = this.live(kind, id);
    if (condition !== undefined) {
      if ('ifAbsent' in condition ? current !== undefined : current?.version !== condition.ifVersion) return Promise.resolve(false);
    }
    this.records.set(`${kind}#${id}`, { kind, data, expiresAt, version: (current?.version ?? 0) + 1 });
    this.flush();
    return Promise.resolve(true);
  }

  consume<T>(kind: RecordKind, id: string): Promise<Consumed<T> | undefined> {
    const current = this.live(kind, id);
    if (current === undefined) return Promise.resolve(undefined);
    if (current.consumedAt !== undefined) return Promise.resolve({ record: current as StoredRecord<T>, first: false });
    this.records.set(`${kind}#${id}`, { ...current, consumedAt: this.now(), version: current.version + 1 });
    this.flush();
    return Promise.resolve({ record: current as StoredRecord<T>, first: true });
  }

  delete(kind: RecordKind, id: string): Promise<void> {
    if (this.records.delete(`${kind}#${id}`)) this.flush();
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  private live(kind: RecordKind, id: string): (StoredRecord & { kind: RecordKind }) | undefined {
    const key = `${kind}#${id}`;
    const record = this.records.get(key);
    if (record === undefined) return undefined;
    if (record.expiresAt <= this.now()) {
      this.records.delete(key);
      return undefined;
    }
    return record;
  }

  /** Writes the whole state (expired records dropped) atomically. */
  private flush(): void {
    const now = this.now();
    const records: Record<string, StoredRecord & { kind: RecordKind }> = {};
    for (const [key, record] of this.records) {
      if (record.expiresAt > now) records[key] = record;
      else this.records.delete(key);
    }
    const image: FileImage = { version: 1, records };
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    const temporary = `${this.path}.${process.pid}.tmp`;
    writeFileSync(temporary, JSON.stringify(image), { mode: 0o600 });
    renameSync(temporary, this.path);
    this.writes += 1;
  }
}
