/**
 * A `TokenProvider` for the stock sync backed by an in-process `TokenBroker`,
 * standing for the broker client and the Lambda invoke between them. A 401
 * reports the refused token by hash, as the broker client does.
 */
import type { TokenBroker } from '../../shared/broker.js';
import type { CallerToken } from '../../shared/broker-client.js';
import { tokenHash } from '../../shared/redact.js';
import type { TokenProvider } from '../../shared/stocks/stocks-api-client.js';

export class BrokerTokenProvider implements TokenProvider {
  constructor(
    private readonly broker: TokenBroker,
    private readonly client: string,
  ) {}

  async getToken(): Promise<CallerToken> {
    return this.broker.getToken({ client: this.client });
  }

  async replaceRejected(accessToken: string): Promise<CallerToken> {
    return this.broker.getToken({ client: this.client, rejectedTokenHash: tokenHash(accessToken) });
  }
}
