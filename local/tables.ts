/**
 * Key schemas of the product's DynamoDB tables, as the local stack creates
 * them. `serverless.yml` declares the same tables for deployment; the
 * packaging test checks that both agree, so neither can drift alone.
 */
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';

export const SERVICE_NAME = 'token-broker';

/** Table names as `serverless.yml` derives them: `<service>-<stage>-<table>`. */
export function tableNames(stage: string) {
  return {
    tokens: `${SERVICE_NAME}-${stage}-tokens`,
    stocks: `${SERVICE_NAME}-${stage}-stocks`,
    syncRuns: `${SERVICE_NAME}-${stage}-sync-runs`,
  };
}

/** Partition key and TTL attribute of each table. */
export const TABLE_KEYS = {
  tokens: { partitionKey: 'cacheKey', ttlAttribute: 'ttl' },
  stocks: { partitionKey: 'stockKey', ttlAttribute: undefined },
  syncRuns: { partitionKey: 'runId', ttlAttribute: 'ttl' },
} as const;

export function tableDefinitions(stage: string): CreateTableCommandInput[] {
  const names = tableNames(stage);
  return (Object.keys(TABLE_KEYS) as (keyof typeof TABLE_KEYS)[]).map((table) => ({
    TableName: names[table],
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [{ AttributeName: TABLE_KEYS[table].partitionKey, AttributeType: 'S' }],
    KeySchema: [{ AttributeName: TABLE_KEYS[table].partitionKey, KeyType: 'HASH' }],
  }));
}
