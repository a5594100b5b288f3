import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { AuthStore, Consumed, PutCondition, RecordKind, StoredRecord } from './store.js';

/**
 * The authorization server's store in an Amazon DynamoDB table, shared by every
 * replica of an ECS fleet. One item per record: partition key `pk` (`<kind>#<id>`),
 * `data` (JSON), `version`, `consumedAt`, and `expiresAt` in epoch seconds (the
 * table's TTL attribute; reads ignore expired items TTL has not removed yet).
 * Conditional writes make compare-and-set and single use atomic across replicas.
 * The AWS SDK is loaded on first use, so commands that never touch the store never load it.
 */

/** Options of {@link DynamoDbAuthStore}. */
export interface DynamoDbAuthStoreOptions {
  /** Table name. */
  readonly table: string;
  /** AWS region. @default the SDK's */
  readonly region?: string;
  /** Endpoint override (a local DynamoDB-compatible server). */
  readonly endpoint?: string;
  /** A ready client (tests). @default a new DynamoDBClient */
  readonly client?: DynamoDBClient;
  /** Clock. @default Date.now */
  readonly now?: () => number;
}

type Sdk = typeof import('@aws-sdk/client-dynamodb');

/** Records that never expire carry no TTL attribute. */
const NO_EXPIRY = Number.MAX_SAFE_INTEGER;

/** A store in DynamoDB. */
export class DynamoDbAuthStore implements AuthStore {
  private ready: Promise<{ sdk: Sdk; client: DynamoDBClient }> | undefined;
  private readonly now: () => number;

  constructor(private readonly options: DynamoDbAuthStoreOptions) {
    this.now = options.now ?? Date.now;
  }

  async get<T>(kind: RecordKind, id: string): Promise<StoredRecord<T> | undefined> {
    const { sdk, client } = await this.connect();
    const out = await client.send(new sdk.GetItemCommand({ TableName: this.options.table, Key: { pk: { S: key(kind, id) } }, ConsistentRead: true }));
    return this.decode<T>(out.Item);
  }

  async put<T>(kind: RecordKind, id: string, data: T, expiresAt: number, condition?: PutCondition): Promise<boolean> {
    const { sdk, client } = await this.connect();
    const current = condition !== undefined && 'ifVersion' in condition ? condition.ifVersion : await this.versionOf(kind, id);
    const item: Record<string, import('@aws-sdk/client-dynamodb').AttributeValue> = {
      pk: { S: key(kind, id) },
      data: { S: JSON.stringify(data) },
      version: { N: String(current + 1) },
      ...(expiresAt >= NO_EXPIRY ? {} : { expiresAt: { N: String(Math.ceil(expiresAt / 1000)) }, expiresAtMs: { N: String(expiresAt) } }),
    };
    // An expired item that TTL has not removed yet counts as absent.
    const notLive = 'attribute_not_exists(pk) OR (attribute_exists(expiresAtMs) AND expiresAtMs <= :now)';
    let conditionExpression: string | undefined;
    let values: Record<string, import('@aws-sdk/client-dynamodb').AttributeValue> | undefined;
    if (condition !== undefined && 'ifAbsent' in condition) {
      conditionExpression = notLive;
      values = { ':now': { N: String(this.now()) } };
    } else if (condition !== undefined) {
      conditionExpression = 'version = :v';
      values = { ':v': { N: String(condition.ifVersion) } };
    }
    try {
      await client.send(
        new sdk.PutItemCommand({
          TableName: this.options.table,
          Item: item,
          ...(conditionExpression === undefined ? {} : { ConditionExpression: conditionExpression, ExpressionAttributeValues: values }),
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof sdk.ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async consume<T>(kind: RecordKind, id: string): Promise<Consumed<T> | undefined> {
    const { sdk, client } = await this.connect();
    const now = this.now();
    try {
      const out = await client.send(
        new sdk.UpdateItemCommand({
          TableName: this.options.table,
          Key: { pk: { S: key(kind, id) } },
          UpdateExpression: 'SET consumedAt = :now ADD version :one',
          ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(consumedAt) AND (attribute_not_exists(expiresAtMs) OR expiresAtMs > :now)',
          ExpressionAttributeValues: { ':now': { N: String(now) }, ':one': { N: '1' } },
          ReturnValues: 'ALL_OLD',
        }),
      );
      const record = this.decode<T>(out.Attributes);
      return record === undefined ? undefined : { record, first: true };
    } catch (error) {
      if (!(error instanceof sdk.ConditionalCheckFailedException)) throw error;
      const record = await this.get<T>(kind, id);
      return record === undefined ? undefined : { record, first: false };
    }
  }

  async delete(kind: RecordKind, id: string): Promise<void> {
    const { sdk, client } = await this.connect();
    await client.send(new sdk.DeleteItemCommand({ TableName: this.options.table, Key: { pk: { S: key(kind, id) } } }));
  }

  async close(): Promise<void> {
    if (this.ready === undefined) return;
    const { client } = await this.ready;
    if (this.options.client === undefined) client.destroy();
  }

  private connect(): Promise<{ sdk: Sdk; client: DynamoDBClient }> {
    this.ready ??= import('@aws-sdk/client-dynamodb').then((sdk) => ({
      sdk,
      client:
        this.options.client ??
        new sdk.DynamoDBClient({
          ...(this.options.region === undefined ? {} : { region: this.options.region }),
          ...(this.options.endpoint === undefined ? {} : { endpoint: this.options.endpoint }),
        }),
    }));
    return this.ready;
  }

  private async versionOf(kind: RecordKind, id: string): Promise<number> {
    return (await this.get(kind, id))?.version ?? 0;
  }

  private decode<T>(item: Record<string, import('@aws-sdk/client-dynamodb').AttributeValue> | undefined): StoredRecord<T> | undefined {
    if (item === undefined) return undefined;
    const expiresAt = item['expiresAtMs']?.N === undefined ? NO_EXPIRY : Number(item['expiresAtMs'].N);
    if (expiresAt <= this.now()) return undefined;
    const consumed = item['consumedAt']?.N;
    return {
      data: JSON.parse(item['data']?.S ?? 'null') as T,
      expiresAt,
      version: Number(item['version']?.N ?? '1'),
      ...(consumed === undefined ? {} : { consumedAt: Number(consumed) }),
    };
  }
}

function key(kind: RecordKind, id: string): string {
  return `${kind}#${id}`;
}
