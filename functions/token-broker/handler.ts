/**
 * Token broker Lambda, invoked by other functions through the Lambda Invoke
 * API. Expected failures (a bad request, an unknown client, a refusal by the
 * token server, an unreachable dependency) are returned as data,
 * `{ error: { code, message, retryable } }`, so callers can branch on a stable
 * code; anything unexpected is thrown and surfaces as a function error.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Context } from 'aws-lambda';
import { TokenBroker } from '../../shared/broker.js';
import { parseBrokerRequest, type BrokerTokenReply } from '../../shared/broker-request.js';
import { ClientProfileStore } from '../../shared/client-profile-store.js';
import { readBrokerConfig } from '../../shared/config.js';
import { BrokerError, ValidationError, type BrokerErrorReply } from '../../shared/errors.js';
import { createLogger } from '../../shared/logger.js';
import { TokenEndpointClient } from '../../shared/token-endpoint.js';
import { TokenTable } from '../../shared/token-table.js';

const logger = createLogger('token-broker');
const config = readBrokerConfig();
const broker = new TokenBroker({
  profiles: new ClientProfileStore(new SecretsManagerClient({}), {
    prefix: config.secretPrefix,
    log: logger,
  }),
  tokenEndpoint: new TokenEndpointClient({
    defaultLifetimeSecs: config.defaultTokenLifetimeSecs,
    log: logger,
  }),
  tokens: new TokenTable(new DynamoDBClient({}), config.tokensTable),
  log: logger,
});

export async function handler(
  event: unknown,
  context?: Context,
): Promise<BrokerTokenReply | BrokerErrorReply> {
  if (context) logger.addContext(context);
  try {
    return await broker.getToken(parseBrokerRequest(event));
  } catch (error) {
    if (error instanceof ValidationError) {
      logger.warn('invalid broker request', { field: error.field, reason: error.message });
      return new BrokerError('invalid_request', error.message).toReply();
    }
    if (error instanceof BrokerError) return error.toReply();
    throw error;
  }
}
