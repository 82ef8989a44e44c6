/**
 * Token broker Lambda, invoked by other functions through the Lambda Invoke
 * API, and every few minutes by a schedule that refreshes tokens ahead of
 * their expiry. Expected failures (a bad request, an unknown client, a
 * refusal by the token server, an unreachable dependency) are returned as
 * data, `{ error: { code, message, retryable } }`, so callers can branch on a
 * stable code; anything unexpected is thrown and surfaces as a function error.
 */
import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { secretsClient, tokenTableClient } from '../../shared/aws-clients.js';
import { TokenBroker, type RefreshOutcome } from '../../shared/broker.js';
import {
  isRefreshEvent,
  parseBrokerRequest,
  parseRefreshRequest,
  type BrokerTokenReply,
} from '../../shared/broker-request.js';
import { ClientProfileStore } from '../../shared/client-profile-store.js';
import { realSleep } from '../../shared/clock.js';
import { readBrokerConfig } from '../../shared/config.js';
import { WARM_UP_JITTER_MS } from '../../shared/constants.js';
import { BrokerError, ValidationError, type BrokerErrorReply } from '../../shared/errors.js';
import { createLogger } from '../../shared/logger.js';
import { powertoolsMetrics } from '../../shared/metrics.js';
import { TokenEndpointClient } from '../../shared/token-endpoint.js';
import { TokenTable } from '../../shared/token-table.js';

const logger = createLogger('token-broker');
const metrics = powertoolsMetrics('token-broker');
const config = readBrokerConfig();
const broker = new TokenBroker({
  profiles: new ClientProfileStore(secretsClient(), {
    prefix: config.secretPrefix,
    log: logger,
  }),
  tokenEndpoint: new TokenEndpointClient({
    defaultLifetimeSecs: config.defaultTokenLifetimeSecs,
    maxLifetimeSecs: config.maxTokenLifetimeSecs,
    log: logger,
  }),
  tokens: new TokenTable(tokenTableClient(), config.tokensTable),
  log: logger,
  metrics,
  environmentId: randomUUID().slice(0, 8),
});

type RefreshReply = { refreshed: Record<string, RefreshOutcome | BrokerErrorReply['error']> };

export async function handler(
  event: unknown,
  context?: Context,
): Promise<BrokerTokenReply | BrokerErrorReply | RefreshReply> {
  if (context) logger.addContext(context);
  try {
    if (isRefreshEvent(event)) return await warmUp(event);
    return await broker.getToken(parseBrokerRequest(event));
  } catch (error) {
    if (error instanceof ValidationError) {
      logger.warn('invalid broker request', { field: error.field, reason: error.message });
      return errorReply(new BrokerError('invalid_request', error.message));
    }
    if (error instanceof BrokerError) return errorReply(error);
    throw error;
  } finally {
    metrics.publish();
  }
}

/**
 * Every error answer is logged once, with its code, whatever produced it (a
 * refusal, a cooldown, a wait that ran out): the alarms count these lines.
 */
function errorReply(error: BrokerError): BrokerErrorReply {
  logger[error.retryable ? 'warn' : 'error']('broker replied with an error', {
    code: error.code,
    retryable: error.retryable,
  });
  return error.toReply();
}

/**
 * The scheduled refresh: after a random pause, so that stages and regions on
 * the same schedule do not all call at once, renew each profile's token if it
 * is missing, due for renewal, or would leave service before the next
 * scheduled run. One profile failing does not stop the others; the reply
 * says what happened to each.
 */
async function warmUp(event: unknown): Promise<RefreshReply> {
  const request = parseRefreshRequest(event);
  await realSleep(Math.random() * WARM_UP_JITTER_MS);

  // Side by side, so one slow profile cannot use up the others' time.
  const outcomes = await Promise.all(
    request.clients.map(async (client) => {
      try {
        const options = request.withinSecs === undefined ? {} : { withinSecs: request.withinSecs };
        return [client, await broker.refresh(client, options)] as const;
      } catch (error) {
        if (!(error instanceof BrokerError)) throw error;
        return [client, errorReply(error).error] as const;
      }
    }),
  );
  const refreshed: RefreshReply['refreshed'] = Object.fromEntries(outcomes);
  logger.info('scheduled refresh done', { refreshed });
  return { refreshed };
}
