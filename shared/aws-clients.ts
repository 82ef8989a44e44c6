/**
 * AWS SDK clients with timeouts. The SDK's default HTTP handler waits without
 * limit, so a DynamoDB that stalls would hold the broker until its Lambda
 * timeout instead of letting it fall back to memory or a direct fetch.
 * Endpoints still come from the standard `AWS_ENDPOINT_URL_<SERVICE>`
 * variables and credentials from the usual provider chain.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/** Time allowed to open a connection to an AWS endpoint. */
export const AWS_CONNECTION_TIMEOUT_MS = 1_000;

/** Time allowed for one DynamoDB request on the token path. */
export const TOKEN_TABLE_REQUEST_TIMEOUT_MS = 2_000;

/** Time allowed for one batch write of the stock sync. */
export const STOCK_TABLE_REQUEST_TIMEOUT_MS = 10_000;

/** Time allowed for one Secrets Manager read. */
export const SECRETS_REQUEST_TIMEOUT_MS = 3_000;

/** Time allowed for one broker invoke: above the broker's own 20 s timeout. */
export const BROKER_INVOKE_TIMEOUT_MS = 25_000;

function handler(requestTimeout: number) {
  return {
    connectionTimeout: AWS_CONNECTION_TIMEOUT_MS,
    requestTimeout,
    throwOnRequestTimeout: true,
  };
}

/** DynamoDB for the token table: short timeouts, two attempts, then degraded mode. */
export function tokenTableClient(): DynamoDBClient {
  return new DynamoDBClient({
    requestHandler: handler(TOKEN_TABLE_REQUEST_TIMEOUT_MS),
    maxAttempts: 2,
  });
}

/** DynamoDB for the stock sync's writes. */
export function stockTableClient(): DynamoDBClient {
  return new DynamoDBClient({ requestHandler: handler(STOCK_TABLE_REQUEST_TIMEOUT_MS) });
}

export function secretsClient(): SecretsManagerClient {
  return new SecretsManagerClient({ requestHandler: handler(SECRETS_REQUEST_TIMEOUT_MS) });
}

/** Lambda for invoking the broker; one attempt, since the broker has its own retries. */
export function brokerInvokeClient(): LambdaClient {
  return new LambdaClient({ requestHandler: handler(BROKER_INVOKE_TIMEOUT_MS), maxAttempts: 1 });
}
