import {
  DescribeTableCommand,
  DynamoDBClient,
  ListTablesCommand,
  PutItemCommand,
  GetItemCommand,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startDynamoDb, type LocalDynamoDb } from '../../local/dynamodb.js';
import { tableNames } from '../../local/tables.js';

describe('startDynamoDb', () => {
  let dynamo: LocalDynamoDb;
  let client: DynamoDBClient;

  beforeAll(async () => {
    dynamo = await startDynamoDb({ stage: 'test' });
    client = new DynamoDBClient({ endpoint: dynamo.endpoint });
  });

  afterAll(async () => {
    client.destroy();
    await dynamo.stop();
  });

  it('listens on a loopback address only', () => {
    expect(dynamo.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('creates every product table for the stage, already active', async () => {
    const { TableNames } = await client.send(new ListTablesCommand({}));

    const expected = Object.values(tableNames('test'));
    expect([...(TableNames ?? [])].sort()).toEqual([...expected].sort());
    for (const TableName of expected) {
      const { Table } = await client.send(new DescribeTableCommand({ TableName }));
      expect(Table?.TableStatus).toBe('ACTIVE');
    }
  });

  it('stores and reads back an item by its partition key', async () => {
    const TableName = tableNames('test').tokens;

    await client.send(
      new PutItemCommand({ TableName, Item: { cacheKey: { S: 'k1' }, ttl: { N: '1' } } }),
    );
    const { Item } = await client.send(
      new GetItemCommand({ TableName, Key: { cacheKey: { S: 'k1' } } }),
    );

    expect(Item).toEqual({ cacheKey: { S: 'k1' }, ttl: { N: '1' } });
  });

  it('uses the local stage when none is given, and stops cleanly', async () => {
    const other = await startDynamoDb();
    const otherClient = new DynamoDBClient({ endpoint: other.endpoint });

    const { TableNames } = await otherClient.send(new ListTablesCommand({}));
    otherClient.destroy();
    await other.stop();

    expect(TableNames).toContain(tableNames('local').stocks);
  });
});
