/**
 * A stand-in for AWS Secrets Manager, because no local emulator runs on
 * this machine. It speaks the real wire protocol (AWS JSON 1.1: `POST /`,
 * `Content-Type: application/x-amz-json-1.1`,
 * `X-Amz-Target: secretsmanager.<Operation>`), so the real
 * `SecretsManagerClient` works against it unchanged.
 *
 * Errors are HTTP 400 (500 for InternalServiceError) with the type both in
 * the `x-amzn-errortype` header and in the body's `__type`; the SDK's JSON
 * 1.1 deserializer reads `__type` first, then `code`, then the header, and
 * maps modelled types (ResourceNotFoundException, DecryptionFailure, ...)
 * onto their exception classes.
 *
 * Implemented: GetSecretValue, CreateSecret, PutSecretValue, DescribeSecret,
 * ListSecrets (filters `name`, `description` and `all`, with `!` negation;
 * MaxResults/NextToken), UpdateSecretVersionStage and DeleteSecret (with a
 * recovery window or ForceDeleteWithoutRecovery), with AWSCURRENT and
 * AWSPREVIOUS moved the way Secrets Manager moves them.
 *
 * Not implemented: SigV4 signatures are not verified (any credentials
 * work), KMS, resource policies, tags, rotation, replication, and the
 * parameter length and pattern limits. Everything lives in memory.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

import { listenOnFreePort, stopServer } from './free-port.js';

export const AWSCURRENT = 'AWSCURRENT';
export const AWSPREVIOUS = 'AWSPREVIOUS';

export const DEFAULT_REGION = 'eu-west-1';
export const DEFAULT_ACCOUNT_ID = '123456789012';
/** Days a deleted secret can be restored, when DeleteSecret names none. */
export const DEFAULT_RECOVERY_WINDOW_DAYS = 30;
const MAX_LIST_RESULTS = 100;
const DAY_SECS = 24 * 60 * 60;

/** Error types a test can make the next calls fail with. */
export type InjectedErrorType =
  | 'ThrottlingException'
  | 'AccessDeniedException'
  | 'DecryptionFailure'
  | 'InternalServiceError'
  | 'ResourceNotFoundException';

export const OPERATIONS = [
  'GetSecretValue',
  'CreateSecret',
  'PutSecretValue',
  'DescribeSecret',
  'ListSecrets',
  'UpdateSecretVersionStage',
  'DeleteSecret',
] as const;
export type Operation = (typeof OPERATIONS)[number];

export interface StartSecretsManagerOptions {
  /** Region written into ARNs. Default: `'eu-west-1'`. */
  region?: string;
  /** Account written into ARNs. Default: `'123456789012'`. */
  accountId?: string;
}

export interface LocalSecretsManager {
  /** `http://127.0.0.1:<port>`, to pass as the SDK client's `endpoint`. */
  endpoint: string;
  /**
   * Makes the next `times` calls (default 1) of `operation` fail with
   * `errorType`, before the request is looked at.
   */
  failNext(operation: Operation, errorType: InjectedErrorType, times?: number): void;
  /** Calls received per operation, failed ones included. */
  stats(): { calls: Record<string, number> };
  stop(): Promise<void>;
}

/** A failure answered in the AWS JSON 1.1 error shape. */
export class SecretsManagerError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = 'SecretsManagerError';
  }
}

/** Starts the stand-in on 127.0.0.1 at a free port. */
export async function startSecretsManager(
  options: StartSecretsManagerOptions = {},
): Promise<LocalSecretsManager> {
  const store = new SecretStore(
    options.region ?? DEFAULT_REGION,
    options.accountId ?? DEFAULT_ACCOUNT_ID,
  );
  const calls: Record<string, number> = {};
  const faults = new Map<string, { errorType: InjectedErrorType; remaining: number }>();

  const server = createServer((req, res) => {
    handle(req)
      .then((body) => sendJson(res, 200, body))
      .catch((error: unknown) => sendError(res, asServiceError(error)));
  });

  async function handle(req: IncomingMessage): Promise<unknown> {
    const operation = operationOf(req);
    calls[operation] = (calls[operation] ?? 0) + 1;
    throwInjectedFault(operation);
    const input = await readJsonBody(req);
    return store.call(operation, input);
  }

  function throwInjectedFault(operation: string): void {
    const fault = faults.get(operation);
    if (!fault) return;
    fault.remaining -= 1;
    if (fault.remaining <= 0) faults.delete(operation);
    throw injectedError(fault.errorType);
  }

  const { url } = await listenOnFreePort(server);

  return {
    endpoint: url,
    failNext(operation, errorType, times = 1) {
      if (!OPERATIONS.includes(operation)) {
        throw new RangeError(`unknown operation: ${String(operation)}`);
      }
      if (!Number.isSafeInteger(times) || times < 1) {
        throw new RangeError(`times must be a positive integer, got ${times}`);
      }
      faults.set(operation, { errorType, remaining: times });
    },
    stats: () => ({ calls: { ...calls } }),
    stop: () => stopServer(server),
  };
}

function injectedError(errorType: InjectedErrorType): SecretsManagerError {
  const messages: Record<InjectedErrorType, string> = {
    ThrottlingException: 'Rate exceeded',
    AccessDeniedException: 'User is not authorized to perform this operation',
    DecryptionFailure:
      "Secrets Manager can't decrypt the protected secret text using the provided KMS key.",
    InternalServiceError: 'An error occurred on the server side.',
    ResourceNotFoundException: "Secrets Manager can't find the specified secret.",
  };
  const status = errorType === 'InternalServiceError' ? 500 : 400;
  return new SecretsManagerError(errorType, messages[errorType], status);
}

/** The operation named by `X-Amz-Target`, checked against the protocol. */
function operationOf(req: IncomingMessage): Operation {
  const target = req.headers['x-amz-target'];
  const contentType = req.headers['content-type'] ?? '';
  if (req.method !== 'POST' || (req.url ?? '/').split('?')[0] !== '/') {
    throw new SecretsManagerError('UnknownOperationException', 'only POST / is served');
  }
  if (!contentType.startsWith('application/x-amz-json-1.1')) {
    throw new SecretsManagerError(
      'SerializationException',
      'Content-Type must be application/x-amz-json-1.1',
    );
  }

  const operation =
    typeof target === 'string' && target.startsWith('secretsmanager.')
      ? target.slice('secretsmanager.'.length)
      : undefined;
  if (!operation || !(OPERATIONS as readonly string[]).includes(operation)) {
    throw new SecretsManagerError(
      'UnknownOperationException',
      `operation ${operation ?? '(none)'} is not supported by this stand-in`,
    );
  }
  return operation as Operation;
}

async function readJsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');

  let body: unknown;
  try {
    body = text === '' ? {} : JSON.parse(text);
  } catch {
    throw new SecretsManagerError('SerializationException', 'request body is not valid JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new SecretsManagerError('SerializationException', 'request body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

function asServiceError(error: unknown): SecretsManagerError {
  if (error instanceof SecretsManagerError) return error;
  return new SecretsManagerError(
    'InternalServiceError',
    'An error occurred on the server side.',
    500,
  );
}

function sendError(res: ServerResponse, error: SecretsManagerError): void {
  res.setHeader('x-amzn-errortype', error.type);
  sendJson(res, error.status, { __type: error.type, message: error.message });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, {
    'content-type': 'application/x-amz-json-1.1',
    'x-amzn-requestid': randomUUID(),
  });
  res.end(JSON.stringify(body));
}

interface SecretVersion {
  versionId: string;
  secretString?: string;
  /** Base64, exactly as it travels on the wire. */
  secretBinary?: string;
  createdDate: number;
  stages: Set<string>;
}

interface Secret {
  arn: string;
  name: string;
  description?: string;
  createdDate: number;
  lastChangedDate: number;
  lastAccessedDate?: number;
  lastRotatedDate?: number;
  deletedDate?: number;
  versions: Map<string, SecretVersion>;
}

/** Epoch seconds, the way the JSON protocol carries timestamps. */
const nowSecs = () => Date.now() / 1000;

/** The secrets and the operations on them; knows nothing of HTTP. */
class SecretStore {
  readonly #secrets = new Map<string, Secret>();

  constructor(
    private readonly region: string,
    private readonly accountId: string,
  ) {}

  call(operation: Operation, input: Record<string, unknown>): unknown {
    switch (operation) {
      case 'GetSecretValue':
        return this.getSecretValue(input);
      case 'CreateSecret':
        return this.createSecret(input);
      case 'PutSecretValue':
        return this.putSecretValue(input);
      case 'DescribeSecret':
        return this.describeSecret(input);
      case 'ListSecrets':
        return this.listSecrets(input);
      case 'UpdateSecretVersionStage':
        return this.updateSecretVersionStage(input);
      case 'DeleteSecret':
        return this.deleteSecret(input);
    }
  }

  getSecretValue(input: Record<string, unknown>) {
    const secret = this.#live(input);
    const versionId = optionalString(input, 'VersionId');
    const stage = optionalString(input, 'VersionStage');
    const version = findVersion(secret, versionId, stage ?? (versionId ? undefined : AWSCURRENT));
    secret.lastAccessedDate = startOfDaySecs();

    return {
      ARN: secret.arn,
      Name: secret.name,
      VersionId: version.versionId,
      SecretString: version.secretString,
      SecretBinary: version.secretBinary,
      VersionStages: [...version.stages],
      CreatedDate: version.createdDate,
    };
  }

  createSecret(input: Record<string, unknown>) {
    const name = requiredString(input, 'Name');
    if (this.#secrets.has(name)) {
      throw new SecretsManagerError(
        'ResourceExistsException',
        `The operation failed because the secret ${name} already exists.`,
      );
    }

    const now = nowSecs();
    const secret: Secret = {
      arn: `arn:aws:secretsmanager:${this.region}:${this.accountId}:secret:${name}-${arnSuffix()}`,
      name,
      description: optionalString(input, 'Description'),
      createdDate: now,
      lastChangedDate: now,
      versions: new Map(),
    };
    const value = secretValue(input);
    let versionId: string | undefined;
    if (value) {
      versionId = optionalString(input, 'ClientRequestToken') ?? randomUUID();
      addVersion(secret, { versionId, ...value, createdDate: now, stages: new Set() }, [
        AWSCURRENT,
      ]);
    }
    this.#secrets.set(name, secret);

    return { ARN: secret.arn, Name: name, VersionId: versionId };
  }

  putSecretValue(input: Record<string, unknown>) {
    const secret = this.#live(input);
    const value = secretValue(input);
    if (!value) {
      throw new SecretsManagerError(
        'InvalidRequestException',
        'You must provide either SecretString or SecretBinary.',
      );
    }
    const versionId = optionalString(input, 'ClientRequestToken') ?? randomUUID();
    const stages = optionalStringList(input, 'VersionStages') ?? [AWSCURRENT];

    const existing = secret.versions.get(versionId);
    if (existing) {
      // Idempotent retry of the same request (ClientRequestToken reused).
      if (
        existing.secretString === value.secretString &&
        existing.secretBinary === value.secretBinary
      ) {
        return versionReply(secret, existing);
      }
      throw new SecretsManagerError(
        'ResourceExistsException',
        `A version with VersionId ${versionId} already exists with different content.`,
      );
    }

    const version = { versionId, ...value, createdDate: nowSecs(), stages: new Set<string>() };
    addVersion(secret, version, stages);
    secret.lastChangedDate = nowSecs();
    return versionReply(secret, version);
  }

  describeSecret(input: Record<string, unknown>) {
    const secret = this.#find(input);
    return {
      ARN: secret.arn,
      Name: secret.name,
      Description: secret.description,
      RotationEnabled: false,
      CreatedDate: secret.createdDate,
      LastChangedDate: secret.lastChangedDate,
      LastAccessedDate: secret.lastAccessedDate,
      LastRotatedDate: secret.lastRotatedDate,
      DeletedDate: secret.deletedDate,
      VersionIdsToStages: versionsToStages(secret),
    };
  }

  listSecrets(input: Record<string, unknown>) {
    const filters = parseFilters(input.Filters);
    const includeDeleted = input.IncludePlannedDeletion === true;
    const maxResults = typeof input.MaxResults === 'number' ? input.MaxResults : MAX_LIST_RESULTS;
    const start = Number(optionalString(input, 'NextToken') ?? '0');
    if (!Number.isSafeInteger(maxResults) || maxResults < 1 || maxResults > MAX_LIST_RESULTS) {
      throw new SecretsManagerError(
        'InvalidParameterException',
        `MaxResults must be between 1 and ${MAX_LIST_RESULTS}.`,
      );
    }
    if (!Number.isSafeInteger(start) || start < 0) {
      throw new SecretsManagerError(
        'InvalidNextTokenException',
        'The NextToken value is not valid.',
      );
    }

    const matching = [...this.#secrets.values()]
      .filter((secret) => includeDeleted || secret.deletedDate === undefined)
      .filter((secret) => filters.every((filter) => filter(secret)))
      .sort((a, b) => a.name.localeCompare(b.name));
    const page = matching.slice(start, start + maxResults);
    const next = start + maxResults < matching.length ? String(start + maxResults) : undefined;

    return {
      SecretList: page.map((secret) => ({
        ARN: secret.arn,
        Name: secret.name,
        Description: secret.description,
        CreatedDate: secret.createdDate,
        LastChangedDate: secret.lastChangedDate,
        LastAccessedDate: secret.lastAccessedDate,
        DeletedDate: secret.deletedDate,
        SecretVersionsToStages: versionsToStages(secret),
      })),
      NextToken: next,
    };
  }

  updateSecretVersionStage(input: Record<string, unknown>) {
    const secret = this.#live(input);
    const stage = requiredString(input, 'VersionStage');
    const moveTo = optionalString(input, 'MoveToVersionId');
    const removeFrom = optionalString(input, 'RemoveFromVersionId');
    const holder = [...secret.versions.values()].find((v) => v.stages.has(stage));

    if (moveTo && !secret.versions.has(moveTo)) {
      throw new SecretsManagerError(
        'ResourceNotFoundException',
        `Secrets Manager can't find the specified secret version ${moveTo}.`,
      );
    }
    if (holder && holder.versionId !== moveTo && holder.versionId !== removeFrom) {
      throw new SecretsManagerError(
        'InvalidParameterException',
        `The staging label ${stage} is currently attached to version ${holder.versionId}, but you have not specified it in RemoveFromVersionId.`,
      );
    }
    if (removeFrom && holder?.versionId !== removeFrom) {
      throw new SecretsManagerError(
        'InvalidParameterException',
        `The staging label ${stage} is not attached to version ${removeFrom}.`,
      );
    }

    if (moveTo) {
      addStages(secret, secret.versions.get(moveTo)!, [stage]);
    } else if (holder) {
      holder.stages.delete(stage);
    }
    secret.lastChangedDate = nowSecs();
    return { ARN: secret.arn, Name: secret.name };
  }

  deleteSecret(input: Record<string, unknown>) {
    const secret = this.#find(input);
    const force = input.ForceDeleteWithoutRecovery === true;
    const windowDays = input.RecoveryWindowInDays;
    if (force && windowDays !== undefined) {
      throw new SecretsManagerError(
        'InvalidParameterException',
        "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
      );
    }
    const days = typeof windowDays === 'number' ? windowDays : DEFAULT_RECOVERY_WINDOW_DAYS;
    if (!force && (!Number.isInteger(days) || days < 7 || days > 30)) {
      throw new SecretsManagerError(
        'InvalidParameterException',
        'RecoveryWindowInDays must be between 7 and 30.',
      );
    }

    const now = nowSecs();
    if (force) {
      this.#secrets.delete(secret.name);
    } else {
      secret.deletedDate ??= now;
    }
    return {
      ARN: secret.arn,
      Name: secret.name,
      DeletionDate: force ? now : now + days * DAY_SECS,
    };
  }

  /** The secret `SecretId` names: a name, a full ARN or an ARN without its suffix. */
  #find(input: Record<string, unknown>): Secret {
    const id = requiredString(input, 'SecretId');
    const secret =
      this.#secrets.get(id) ??
      [...this.#secrets.values()].find((s) => s.arn === id || s.arn.slice(0, -7) === id);
    if (!secret) {
      throw new SecretsManagerError(
        'ResourceNotFoundException',
        "Secrets Manager can't find the specified secret.",
      );
    }
    return secret;
  }

  /** Like `#find`, but a secret scheduled for deletion cannot be used. */
  #live(input: Record<string, unknown>): Secret {
    const secret = this.#find(input);
    if (secret.deletedDate !== undefined) {
      throw new SecretsManagerError(
        'InvalidRequestException',
        "You can't perform this operation on the secret because it was marked for deletion.",
      );
    }
    return secret;
  }
}

function versionReply(secret: Secret, version: SecretVersion) {
  return {
    ARN: secret.arn,
    Name: secret.name,
    VersionId: version.versionId,
    VersionStages: [...version.stages],
  };
}

function findVersion(secret: Secret, versionId?: string, stage?: string): SecretVersion {
  const version = versionId
    ? secret.versions.get(versionId)
    : [...secret.versions.values()].find((v) => stage !== undefined && v.stages.has(stage));
  if (!version || (stage !== undefined && !version.stages.has(stage))) {
    throw new SecretsManagerError(
      'ResourceNotFoundException',
      "Secrets Manager can't find the specified secret value for " +
        (versionId ? `VersionId: ${versionId}` : `staging label: ${stage}`),
    );
  }
  return version;
}

function addVersion(secret: Secret, version: SecretVersion, stages: string[]): void {
  secret.versions.set(version.versionId, version);
  addStages(secret, version, stages);
}

/**
 * Attaches `stages` to `version`, taking each off the version that had it.
 * When AWSCURRENT moves, its former holder becomes AWSPREVIOUS.
 */
function addStages(secret: Secret, version: SecretVersion, stages: string[]): void {
  for (const stage of stages) {
    const holder = [...secret.versions.values()].find((v) => v.stages.has(stage));
    if (holder === version) continue;
    holder?.stages.delete(stage);
    version.stages.add(stage);

    if (stage === AWSCURRENT && holder) {
      for (const v of secret.versions.values()) v.stages.delete(AWSPREVIOUS);
      holder.stages.add(AWSPREVIOUS);
      version.stages.delete(AWSPREVIOUS);
    }
  }
}

/** Versions without a staging label are deprecated and left out. */
function versionsToStages(secret: Secret): Record<string, string[]> {
  const result: Record<string, string[]> = {};
  for (const version of secret.versions.values()) {
    if (version.stages.size > 0) result[version.versionId] = [...version.stages];
  }
  return result;
}

function secretValue(
  input: Record<string, unknown>,
): { secretString?: string; secretBinary?: string } | undefined {
  const secretString = optionalString(input, 'SecretString');
  const secretBinary = optionalString(input, 'SecretBinary');
  if (secretString !== undefined && secretBinary !== undefined) {
    throw new SecretsManagerError(
      'InvalidParameterException',
      'You can provide either SecretString or SecretBinary, not both.',
    );
  }
  if (secretString !== undefined) return { secretString };
  if (secretBinary !== undefined) return { secretBinary };
  return undefined;
}

type SecretFilter = (secret: Secret) => boolean;

/**
 * ListSecrets filters: values within a filter are alternatives, filters all
 * apply, a leading `!` negates. `name` is a case-sensitive prefix,
 * `description` a case-insensitive one, `all` a case-insensitive word match.
 */
function parseFilters(raw: unknown): SecretFilter[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) {
    throw new SecretsManagerError('InvalidParameterException', 'Filters must be a list.');
  }
  return raw.map((filter: { Key?: unknown; Values?: unknown }) => {
    const values = Array.isArray(filter.Values) ? filter.Values.map(String) : [];
    const match = filterMatcher(filter.Key);
    return (secret: Secret) =>
      values.some((value) =>
        value.startsWith('!') ? !match(secret, value.slice(1)) : match(secret, value),
      );
  });
}

function filterMatcher(key: unknown): (secret: Secret, value: string) => boolean {
  switch (key) {
    case 'name':
      return (secret, value) => secret.name.startsWith(value);
    case 'description':
      return (secret, value) =>
        (secret.description ?? '').toLowerCase().startsWith(value.toLowerCase());
    case 'all':
      return (secret, value) => {
        const haystack = `${secret.name} ${secret.description ?? ''}`.toLowerCase();
        return value
          .toLowerCase()
          .split(/\s+/)
          .every((word) => haystack.includes(word));
      };
    default:
      throw new SecretsManagerError(
        'InvalidParameterException',
        `Filter key ${String(key)} is not supported by this stand-in.`,
      );
  }
}

function requiredString(input: Record<string, unknown>, field: string): string {
  const value = optionalString(input, field);
  if (value === undefined || value === '') {
    throw new SecretsManagerError('InvalidParameterException', `${field} is required.`);
  }
  return value;
}

function optionalString(input: Record<string, unknown>, field: string): string | undefined {
  const value = input[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') {
    throw new SecretsManagerError('InvalidParameterException', `${field} must be a string.`);
  }
  return value;
}

function optionalStringList(input: Record<string, unknown>, field: string): string[] | undefined {
  const value = input[field];
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length === 0 || !value.every((v) => typeof v === 'string')) {
    throw new SecretsManagerError(
      'InvalidParameterException',
      `${field} must be a non-empty list of strings.`,
    );
  }
  return value as string[];
}

/** Secrets Manager ends every ARN with a dash and six random characters. */
function arnSuffix(): string {
  return randomBytes(6)
    .toString('base64')
    .replace(/[^A-Za-z0-9]/g, 'x')
    .slice(0, 6);
}

/** LastAccessedDate is kept to the day, as Secrets Manager does. */
function startOfDaySecs(): number {
  return Math.floor(nowSecs() / DAY_SECS) * DAY_SECS;
}
