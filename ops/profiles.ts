/**
 * `profile add | list | show | rotate`: client profile secrets in Secrets
 * Manager, validated exactly as the broker reads them (`parseClientProfile`
 * on the very JSON that is stored). A secret is read from standard input or
 * a prompt, sent only to Secrets Manager and the profile's token endpoint,
 * and never printed: views are built field by field from the parsed profile.
 */
import { randomUUID } from 'node:crypto';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  type SecretListEntry,
} from '@aws-sdk/client-secrets-manager';
import {
  AUTH_METHODS,
  isProfileName,
  parseClientProfile,
  type AuthMethod,
  type ClientProfile,
  type SigningAlg,
} from '../shared/client-profile.js';
import { BrokerError, ValidationError } from '../shared/errors.js';
import { tokenHash } from '../shared/redact.js';
import type { OptionValues } from './arguments.js';
import type { CommandResult, OpsContext } from './context.js';
import { fromAwsError, NotFoundError, OperationError, UsageError } from './errors.js';
import { formatFields, formatInstant, formatTable, shortId, type Column } from './table.js';
import { purgeProfileTokens } from './tokens.js';

/** A profile as the CLI shows it: every field but the credential. */
export interface ProfileView {
  name: string;
  secretName: string;
  clientId?: string;
  tokenUrl?: string;
  scopes?: string[];
  authMethod?: AuthMethod;
  audience?: string;
  resource?: string;
  keyId?: string;
  /** For `private_key_jwt`: the algorithm client assertions are signed with. */
  signingAlg?: SigningAlg;
  /** Version id of AWSCURRENT. */
  secretVersion?: string;
  /** When the current version was put: the profile's last rotation (or creation). */
  lastRotation?: string;
  /** Set instead of the fields when the stored document does not parse. */
  invalid?: string;
}

/** What a token request with the new credentials proved, without the token. */
export interface TokenProof {
  tokenHash: string;
  scope: string;
  expiresAt: number;
}

/**
 * The secret document `profile add` stores, from its options and the
 * credential read from standard input or the prompt. Unset options are left
 * out, so the broker's own defaults apply.
 */
export function profileDocument(
  options: OptionValues,
  credential: string,
): Record<string, unknown> {
  const authMethod = text(options['auth-method']) ?? 'client_secret_post';
  const scopes = text(options.scopes)
    ?.split(/[\s,]+/)
    .filter(Boolean);
  const document: Record<string, unknown> = {
    client_id: required(options, 'client-id'),
    token_url: required(options, 'token-url'),
    ...(scopes ? { scopes } : {}),
    auth_method: authMethod,
    [authMethod === 'private_key_jwt' ? 'private_key' : 'client_secret']: credential,
  };
  for (const [option, field] of [
    ['audience', 'audience'],
    ['resource', 'resource'],
    ['key-id', 'key_id'],
    ['signing-alg', 'signing_alg'],
  ] as const) {
    const value = text(options[option]);
    if (value !== undefined) document[field] = value;
  }
  return document;
}

/** Parses the document as the broker will; a field at fault is a usage error. */
export function validatedProfile(document: Record<string, unknown>): ClientProfile {
  try {
    return parseClientProfile(JSON.stringify(document));
  } catch (error) {
    if (error instanceof ValidationError) {
      throw new UsageError(`invalid profile: ${error.message}`, { cause: error });
    }
    throw error;
  }
}

export async function profileAdd(
  ctx: OpsContext,
  name: string,
  options: OptionValues,
): Promise<CommandResult> {
  assertProfileName(name);
  assertAuthMethod(options['auth-method']);
  // Required options are checked before anyone is asked to type a secret.
  required(options, 'client-id');
  required(options, 'token-url');
  const credentialLabel =
    options['auth-method'] === 'private_key_jwt' ? 'private key' : 'client secret';
  const credential = await ctx.readSecret(
    `${credentialLabel} for ${name}`,
    options['secret-stdin'] === true,
  );
  const document = profileDocument(options, credential);
  const profile = validatedProfile(document);

  const proof = options.check === true ? await proveCredentials(ctx, name, profile) : undefined;
  const secretName = secretNameOf(ctx, name);
  let versionId: string | undefined;
  try {
    const created = await ctx.clients.secrets.send(
      new CreateSecretCommand({
        Name: secretName,
        Description: `token-broker client profile ${name}`,
        SecretString: JSON.stringify(document),
        ClientRequestToken: randomUUID(),
      }),
    );
    versionId = created.VersionId;
  } catch (error) {
    if (error instanceof Error && error.name === 'ResourceExistsException') {
      throw new OperationError(
        'profile_exists',
        `profile ${name} already exists (${secretName}); use profile rotate to change its secret`,
        { cause: error },
      );
    }
    throw fromAwsError(error, `creating ${secretName}`);
  }

  const view = viewOf(name, secretName, profile, versionId, new Date(ctx.clock()));
  const fields = viewFields(view);
  if (proof) fields.push(['check', proofText(proof)]);
  return {
    data: { ...view, ...(proof ? { check: proof } : {}) },
    text: formatFields(`Created profile ${name}`, fields),
  };
}

export async function profileList(ctx: OpsContext): Promise<CommandResult> {
  const entries = await listProfileSecrets(ctx);
  const views: ProfileView[] = [];
  for (const entry of entries) views.push(await readView(ctx, entry.name));
  const text = views.length
    ? formatTable(LIST_COLUMNS, views)
    : `No profiles under ${ctx.target.secretPrefix}.\n`;
  return { data: { secretPrefix: ctx.target.secretPrefix, profiles: views }, text };
}

export async function profileShow(ctx: OpsContext, name: string): Promise<CommandResult> {
  assertProfileName(name);
  const view = await readView(ctx, name);
  const fields = view.invalid
    ? ([
        ['secret', view.secretName],
        ['invalid', view.invalid],
      ] as [string, string][])
    : viewFields(view);
  return { data: view, text: formatFields(`Profile ${name}`, fields) };
}

/**
 * Rotation, in an order that never leaves the fleet without working
 * credentials: 1) the new secret must obtain a token (refused: nothing
 * changes, exit code 1); 2) it is put as a new version, which becomes
 * AWSCURRENT (brokers pick it up within their 5-minute profile cache, or at
 * once after a refusal of the old one); 3) the profile's cached tokens are
 * removed. Secrets Manager has no conditional put, so a rotation running at
 * the same moment from elsewhere would win or lose as a whole.
 */
export async function profileRotate(
  ctx: OpsContext,
  name: string,
  options: OptionValues,
): Promise<CommandResult> {
  assertProfileName(name);
  const secretName = secretNameOf(ctx, name);
  const current = await getCurrent(ctx, name);
  const document = storedDocument(current.secretString, name);
  const currentProfile = validatedStored(document, name);
  const credentialField =
    currentProfile.authMethod === 'private_key_jwt' ? 'private_key' : 'client_secret';
  const credential = await ctx.readSecret(
    `new ${credentialField === 'private_key' ? 'private key' : 'client secret'} for ${name}`,
    options['secret-stdin'] === true,
  );
  const rotated = { ...document, [credentialField]: credential };
  const profile = validatedProfile(rotated);

  const proof = await proveCredentials(ctx, name, profile);
  let versionId: string | undefined;
  try {
    const put = await ctx.clients.secrets.send(
      new PutSecretValueCommand({
        SecretId: secretName,
        SecretString: JSON.stringify(rotated),
        ClientRequestToken: randomUUID(),
      }),
    );
    versionId = put.VersionId;
  } catch (error) {
    throw fromAwsError(error, `putting a new version of ${secretName}`);
  }
  const purged = await purgeProfileTokens(ctx, name);

  const data = {
    profile: name,
    secretName,
    previousVersion: current.versionId,
    newVersion: versionId,
    proof,
    purgedTokens: purged.length,
    purgedTokenHashes: purged,
  };
  const text = formatFields(`Rotated profile ${name}`, [
    ['new secret', `accepted by the token server (${proofText(proof)})`],
    ['secret version', `${shortId(current.versionId)} -> ${shortId(versionId)} (AWSCURRENT)`],
    ['cached tokens', `${purged.length} removed${purged.length ? `: ${purged.join(', ')}` : ''}`],
  ]);
  return { data, text };
}

/** Requests one token with `profile`'s credentials; a refusal is exit code 1. */
async function proveCredentials(
  ctx: OpsContext,
  name: string,
  profile: ClientProfile,
): Promise<TokenProof> {
  try {
    const grant = await ctx.tokenEndpoint.requestToken(profile, profile.scopes);
    return {
      tokenHash: tokenHash(grant.accessToken),
      scope: grant.scope,
      expiresAt: grant.expiresAt,
    };
  } catch (error) {
    if (error instanceof BrokerError) {
      throw new OperationError(
        error.code,
        `the token server did not issue a token for ${name} with the new credentials ` +
          `(${error.code}): ${error.message}; nothing was changed`,
        { cause: error },
      );
    }
    throw error;
  }
}

const LIST_COLUMNS: Column<ProfileView>[] = [
  { header: 'NAME', value: (view) => view.name },
  { header: 'CLIENT ID', value: (view) => view.clientId ?? '-' },
  { header: 'TOKEN URL', value: (view) => view.tokenUrl ?? `invalid: ${view.invalid}` },
  { header: 'SCOPES', value: (view) => view.scopes?.join(' ') || '-' },
  { header: 'AUTH METHOD', value: (view) => view.authMethod ?? '-' },
  { header: 'VERSION', value: (view) => shortId(view.secretVersion, 8) },
  { header: 'LAST ROTATION', value: (view) => formatInstant(view.lastRotation) },
];

function viewFields(view: ProfileView): [string, string][] {
  const fields: [string, string][] = [
    ['secret', view.secretName],
    ['client id', view.clientId ?? '-'],
    ['token url', view.tokenUrl ?? '-'],
    ['scopes', view.scopes?.join(' ') || '(server default)'],
    ['auth method', view.authMethod ?? '-'],
  ];
  if (view.audience) fields.push(['audience', view.audience]);
  if (view.resource) fields.push(['resource', view.resource]);
  if (view.keyId) fields.push(['key id', view.keyId]);
  if (view.signingAlg) fields.push(['signing alg', view.signingAlg]);
  fields.push(['secret version', view.secretVersion ?? '-']);
  fields.push(['last rotation', formatInstant(view.lastRotation)]);
  return fields;
}

function viewOf(
  name: string,
  secretName: string,
  profile: ClientProfile,
  versionId: string | undefined,
  putAt: Date | undefined,
): ProfileView {
  return {
    name,
    secretName,
    clientId: profile.clientId,
    tokenUrl: profile.tokenUrl,
    scopes: profile.scopes,
    authMethod: profile.authMethod,
    ...(profile.audience ? { audience: profile.audience } : {}),
    ...(profile.resource ? { resource: profile.resource } : {}),
    ...(profile.keyId ? { keyId: profile.keyId } : {}),
    ...(profile.signingAlg ? { signingAlg: profile.signingAlg } : {}),
    ...(versionId ? { secretVersion: versionId } : {}),
    ...(putAt ? { lastRotation: putAt.toISOString() } : {}),
  };
}

async function readView(ctx: OpsContext, name: string): Promise<ProfileView> {
  const secretName = secretNameOf(ctx, name);
  const current = await getCurrent(ctx, name);
  try {
    const profile = parseClientProfile(current.secretString);
    return viewOf(name, secretName, profile, current.versionId, current.createdDate);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    return {
      name,
      secretName,
      ...(current.versionId ? { secretVersion: current.versionId } : {}),
      invalid: error.message,
    };
  }
}

async function getCurrent(ctx: OpsContext, name: string) {
  const secretName = secretNameOf(ctx, name);
  try {
    const reply = await ctx.clients.secrets.send(
      new GetSecretValueCommand({ SecretId: secretName }),
    );
    if (reply.SecretString === undefined) {
      throw new OperationError('invalid_profile', `${secretName} holds no SecretString`);
    }
    return {
      secretString: reply.SecretString,
      versionId: reply.VersionId,
      createdDate: reply.CreatedDate,
    };
  } catch (error) {
    if (error instanceof Error && error.name === 'ResourceNotFoundException') {
      throw new NotFoundError(`no profile ${name} (secret ${secretName})`, { cause: error });
    }
    throw fromAwsError(error, `reading ${secretName}`);
  }
}

async function listProfileSecrets(ctx: OpsContext): Promise<{ name: string }[]> {
  const prefix = ctx.target.secretPrefix;
  const entries: SecretListEntry[] = [];
  let nextToken: string | undefined;
  try {
    do {
      const page = await ctx.clients.secrets.send(
        new ListSecretsCommand({
          Filters: [{ Key: 'name', Values: [prefix] }],
          ...(nextToken ? { NextToken: nextToken } : {}),
        }),
      );
      entries.push(...(page.SecretList ?? []));
      nextToken = page.NextToken;
    } while (nextToken);
  } catch (error) {
    throw fromAwsError(error, `listing secrets under ${prefix}`);
  }
  // The name filter matches prefixes of words too; keep exact prefixes and profile names.
  return entries
    .map((entry) => entry.Name ?? '')
    .filter((secretName) => secretName.startsWith(prefix))
    .map((secretName) => ({ name: secretName.slice(prefix.length) }))
    .filter(({ name }) => isProfileName(name))
    .sort((a, b) => a.name.localeCompare(b.name));
}

function storedDocument(secretString: string, name: string): Record<string, unknown> {
  try {
    const value = JSON.parse(secretString) as unknown;
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      return value as Record<string, unknown>;
    }
  } catch {
    // Reported below without the document, which holds a secret.
  }
  throw new OperationError('invalid_profile', `the stored profile ${name} is not a JSON object`);
}

function validatedStored(document: Record<string, unknown>, name: string): ClientProfile {
  try {
    return parseClientProfile(JSON.stringify(document));
  } catch (error) {
    if (error instanceof ValidationError) {
      throw new OperationError(
        'invalid_profile',
        `the stored profile ${name} is invalid: ${error.message}`,
      );
    }
    throw error;
  }
}

function proofText(proof: TokenProof): string {
  return `token ${proof.tokenHash}, scope ${proof.scope || '(none)'}`;
}

function secretNameOf(ctx: OpsContext, name: string): string {
  return `${ctx.target.secretPrefix}${name}`;
}

function assertProfileName(name: string): void {
  if (!isProfileName(name)) {
    throw new UsageError(
      '<name> must be 1-64 letters, digits, "-" or "_", starting with one of the first two',
    );
  }
}

function assertAuthMethod(value: string | boolean | undefined): void {
  if (value !== undefined && !AUTH_METHODS.includes(value as AuthMethod)) {
    throw new UsageError(`--auth-method must be one of ${AUTH_METHODS.join(', ')}`);
  }
}

function required(options: OptionValues, name: string): string {
  const value = text(options[name]);
  if (value === undefined || value.trim() === '') throw new UsageError(`--${name} is required`);
  return value;
}

function text(value: string | boolean | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
