import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbAuthStore } from '../../../src/gateway/auth/server/dynamodb-store.js';
import { SigningKeys } from '../../../src/gateway/auth/server/keys.js';
import { SecretBox } from '../../../src/gateway/auth/server/secrets.js';
import { FileAuthStore, type AuthStore } from '../../../src/gateway/auth/server/store.js';
import { TokenService } from '../../../src/gateway/auth/server/tokens.js';

/**
 * The store contract, run against both stores: the local file, and DynamoDB as
 * served by `dynalite` (a DynamoDB implementation on 127.0.0.1; AWS itself cannot
 * run here). Two store objects on one table stand for two replicas.
 */

let server: Server;
let endpoint: string;
let dir: string;
let clock = Date.now();
const now = (): number => clock;

beforeAll(async () => {
  server = dynalite({ createTableMs: 0 });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dir = mkdtempSync(join(tmpdir(), 'mcp-fleet-store-'));
});
afterAll(async () => {
  server?.close();
  rmSync(dir, { recursive: true, force: true });
});

let tables = 0;
async function dynamoPair(): Promise<[AuthStore, AuthStore]> {
  tables += 1;
  const table = `mcp-fleet-auth-${tables}`;
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  await client.send(
    new CreateTableCommand({
      TableName: table,
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  return [new DynamoDbAuthStore({ table, client, now }), new DynamoDbAuthStore({ table, client, now })];
}

let files = 0;
async function filePair(): Promise<[AuthStore, AuthStore]> {
  files += 1;
  const store = new FileAuthStore(join(dir, `store-${files}.json`), { now });
  // One process owns a file store: both "replicas" are the same object.
  return [store, store];
}

describe.each([
  ['file', filePair],
  ['DynamoDB (dynalite)', dynamoPair],
] as const)('%s store', (_name, make) => {
  it('keeps records, with versions, until they expire', async () => {
    const [store] = await make();
    expect(await store.put('client', 'a', { n: 1 }, clock + 1000)).toBe(true);
    expect(await store.get('client', 'a')).toMatchObject({ data: { n: 1 }, version: 1 });
    expect(await store.put('client', 'a', { n: 2 }, clock + 1000)).toBe(true);
    expect(await store.get('client', 'a')).toMatchObject({ data: { n: 2 }, version: 2 });
    clock += 1001;
    expect(await store.get('client', 'a')).toBeUndefined();
    await store.delete('client', 'a');
  });

  it('writes only when the condition holds (absent, or still at the version read)', async () => {
    const [one, two] = await make();
    expect(await one.put('keys', 'k', 'first', clock + 60_000, { ifAbsent: true })).toBe(true);
    expect(await two.put('keys', 'k', 'second', clock + 60_000, { ifAbsent: true })).toBe(false);
    const read = await two.get('keys', 'k');
    expect(await one.put('keys', 'k', 'third', clock + 60_000, { ifVersion: read?.version ?? 0 })).toBe(true);
    expect(await two.put('keys', 'k', 'stale', clock + 60_000, { ifVersion: read?.version ?? 0 })).toBe(false);
    expect((await two.get('keys', 'k'))?.data).toBe('third');
  });

  it('GIVEN two replicas consuming one code at once THEN exactly one is first', async () => {
    const [one, two] = await make();
    await one.put('code', 'c', { grant: 'g' }, clock + 60_000);
    const results = await Promise.all([one.consume('code', 'c'), two.consume('code', 'c'), one.consume('code', 'c'), two.consume('code', 'c')]);
    expect(results.filter((r) => r?.first === true)).toHaveLength(1);
    expect(results.every((r) => r?.record.data !== undefined)).toBe(true);
    expect(await one.consume('code', 'missing')).toBeUndefined();
  });

  it('GIVEN grants in the store THEN refresh tokens rotate, a replay revokes the grant on every replica', async () => {
    const [one, two] = await make();
    const box = new SecretBox('s'.repeat(40));
    const options = { issuer: 'https://auth.example.com', fleetResource: undefined, accessTokenTtlMs: 600_000, refreshTokenTtlMs: 86_400_000, sessionMaxMs: 7 * 86_400_000, revocationCheckMs: 0, now };
    const replicaA = new TokenService(one, new SigningKeys(one, box, { rotationMs: 86_400_000, tokenTtlMs: 600_000, now }), options);
    const replicaB = new TokenService(two, new SigningKeys(two, box, { rotationMs: 86_400_000, tokenTtlMs: 600_000, now }), options);
    const first = await replicaA.startGrant('grant-1', { subject: 'alice', groups: [], clientId: 'c', scopes: ['mcp:tools'], resource: 'https://fetch.example.com/mcp' });
    // A token signed on one replica verifies on the other (shared, encrypted key ring).
    expect(await replicaB.verify(first.access_token, 'https://fetch.example.com/mcp')).toMatchObject({ ok: true, subject: 'alice' });
    const rotated = await replicaB.refresh(first.refresh_token, 'c');
    expect(rotated.ok).toBe(true);
    expect(await replicaA.refresh(first.refresh_token, 'c')).toEqual({ ok: false, reason: 'replayed' });
    expect(await replicaB.refresh(rotated.ok ? rotated.refreshToken : '', 'c')).toEqual({ ok: false, reason: 'unknown' });
    expect(await replicaB.verify(first.access_token, 'https://fetch.example.com/mcp')).toEqual({ ok: false, reason: 'token-revoked' });
  });
});

describe('what the stores keep of secrets', () => {
  it('GIVEN a file store THEN it is mode 0600 and holds no refresh token, code or private key in the clear', async () => {
    const path = join(dir, 'secrets.json');
    const store = new FileAuthStore(path, { now });
    const box = new SecretBox('t'.repeat(40));
    const keys = new SigningKeys(store, box, { rotationMs: 86_400_000, tokenTtlMs: 600_000, now });
    const tokens = new TokenService(store, keys, { issuer: 'https://a.example.com', fleetResource: undefined, accessTokenTtlMs: 600_000, refreshTokenTtlMs: 86_400_000, sessionMaxMs: 86_400_000, revocationCheckMs: 0, now });
    const issued = await tokens.startGrant('g', { subject: 'alice', groups: [], clientId: 'c', scopes: [], resource: 'https://x.example.com/mcp' });
    const text = readFileSync(path, 'utf8');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(text).not.toContain(issued.refresh_token.split('.')[1]);
    expect(text).not.toMatch(/"d":"/);
    // Another secret cannot open the key ring.
    const stranger = new SigningKeys(new FileAuthStore(path, { now }), new SecretBox('u'.repeat(40)), { rotationMs: 86_400_000, tokenTtlMs: 600_000, now });
    await expect(stranger.signingKey()).rejects.toThrow();
  });
});
