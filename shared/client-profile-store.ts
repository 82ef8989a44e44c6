/**
 * Reads client profiles from Secrets Manager and keeps each in memory for a
 * few minutes. Secrets Manager answers every failure with HTTP 400, so the
 * outcome is decided by the error's name: throttling and service faults are
 * transient (the last good profile keeps serving), a missing secret is an
 * unknown client, and access or decryption failures are permanent.
 */
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SECRET_CACHE_TTL_SECS } from './constants.js';
import { parseClientProfile, type ClientProfile } from './client-profile.js';
import { BrokerError, ValidationError, errorName } from './errors.js';
import { systemClock, type Clock } from './clock.js';
import type { Log } from './logger.js';

export interface ProfileLookup {
  profile: ClientProfile;
  /** Secrets Manager version id of the document read. */
  versionId: string;
  secretName: string;
}

export interface ClientProfileStoreOptions {
  /** Secret name prefix, e.g. `token-broker/clients/`. */
  prefix: string;
  /** How long a profile is reused before it is read again; default 300 s. */
  ttlSecs?: number;
  clock?: Clock;
  log: Log;
}

interface CachedProfile {
  lookup: ProfileLookup;
  readAtMs: number;
}

const TRANSIENT_ERRORS = new Set([
  'ThrottlingException',
  'InternalServiceError',
  'TimeoutError',
  'RequestTimeout',
]);

export class ClientProfileStore {
  private readonly cache = new Map<string, CachedProfile>();
  private readonly inFlight = new Map<string, Promise<ProfileLookup>>();
  private readonly ttlMs: number;
  private readonly clock: Clock;

  constructor(
    private readonly secrets: SecretsManagerClient,
    private readonly options: ClientProfileStoreOptions,
  ) {
    this.ttlMs = (options.ttlSecs ?? SECRET_CACHE_TTL_SECS) * 1000;
    this.clock = options.clock ?? systemClock;
  }

  /** The secret name that holds a profile. */
  secretName(profileName: string): string {
    return `${this.options.prefix}${profileName}`;
  }

  /**
   * The profile's current version. With `bypassCache`, Secrets Manager is read
   * again even if a fresh copy is held (used after the token server refused
   * the credentials, in case the secret was rotated).
   */
  async get(profileName: string, { bypassCache = false } = {}): Promise<ProfileLookup> {
    const cached = this.cache.get(profileName);
    if (!bypassCache && cached && this.clock() - cached.readAtMs < this.ttlMs) {
      return cached.lookup;
    }
    const pending = this.inFlight.get(profileName);
    if (pending) return pending;

    const read = this.read(profileName, cached).finally(() => this.inFlight.delete(profileName));
    this.inFlight.set(profileName, read);
    return read;
  }

  private async read(profileName: string, cached?: CachedProfile): Promise<ProfileLookup> {
    const secretName = this.secretName(profileName);
    let lookup: ProfileLookup;
    try {
      lookup = await this.fetch(secretName);
    } catch (error) {
      const failure = this.classify(error, profileName, secretName);
      if (failure.retryable && cached) {
        this.options.log.warn('serving last good client profile', {
          profile: profileName,
          errorName: errorName(error),
        });
        return cached.lookup;
      }
      throw failure;
    }
    this.cache.set(profileName, { lookup, readAtMs: this.clock() });
    return lookup;
  }

  private async fetch(secretName: string): Promise<ProfileLookup> {
    const reply = await this.secrets.send(
      new GetSecretValueCommand({ SecretId: secretName, VersionStage: 'AWSCURRENT' }),
    );
    const document =
      reply.SecretString ??
      (reply.SecretBinary ? Buffer.from(reply.SecretBinary).toString('utf8') : undefined);
    if (document === undefined) {
      throw new ValidationError('SecretString', 'is empty');
    }
    return {
      profile: parseClientProfile(document),
      versionId: reply.VersionId ?? '',
      secretName,
    };
  }

  private classify(error: unknown, profileName: string, secretName: string): BrokerError {
    if (error instanceof ValidationError) {
      return new BrokerError(
        'invalid_profile',
        `client profile secret ${secretName} is invalid: ${error.message}`,
      );
    }
    const name = errorName(error);
    if (name === 'ResourceNotFoundException') {
      return new BrokerError(
        'unknown_client',
        `no client profile named ${profileName} (secret ${secretName} not found)`,
        { cause: error },
      );
    }
    const retryable = TRANSIENT_ERRORS.has(name) || !isServiceError(error);
    return new BrokerError(
      'secret_unavailable',
      `secret ${secretName} could not be read: ${name}`,
      { retryable, cause: error },
    );
  }
}

/** Service errors carry `$fault`; network failures and timeouts do not. */
function isServiceError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && '$fault' in error;
}
