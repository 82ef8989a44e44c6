/**
 * Every command of the operations CLI as data: its words, arguments, options
 * and help. The parser and the help pages are derived from this one list, so
 * an option cannot be accepted without being documented.
 */

export interface OptionSpec {
  type: 'string' | 'boolean';
  /** Placeholder shown in help for a string option, e.g. `<url>`. */
  value?: string;
  description: string;
}

export type CommandId =
  | 'profile add'
  | 'profile list'
  | 'profile show'
  | 'profile rotate'
  | 'tokens status'
  | 'tokens purge'
  | 'sync run'
  | 'sync last';

export interface CommandSpec {
  id: CommandId;
  summary: string;
  /** Names of the positional arguments, all required. */
  positionals: readonly string[];
  options: Readonly<Record<string, OptionSpec>>;
  /** Paragraphs printed under the usage line. */
  details: readonly string[];
}

/** Options every command takes: where to work and how to print. */
export const GLOBAL_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  stage: {
    type: 'string',
    value: '<stage>',
    description: 'deployment stage; default dev (local with --local)',
  },
  region: {
    type: 'string',
    value: '<region>',
    description: 'AWS region; default from AWS_REGION or the AWS profile',
  },
  'secret-prefix': {
    type: 'string',
    value: '<prefix>',
    description: 'name prefix of client profile secrets; default token-broker/clients/',
  },
  local: {
    type: 'string',
    value: '<file|->',
    description: "target the local stack described by `npm run -s stack`'s JSON line",
  },
  json: { type: 'boolean', description: 'print JSON instead of a table' },
  help: { type: 'boolean', description: 'show help for the command' },
};

const SECRET_STDIN: OptionSpec = {
  type: 'boolean',
  description: 'read the secret from standard input (else: a prompt without echo)',
};

export const COMMANDS: readonly CommandSpec[] = [
  {
    id: 'profile add',
    summary: 'create a client profile secret',
    positionals: ['name'],
    options: {
      'client-id': { type: 'string', value: '<id>', description: 'OAuth client id (required)' },
      'token-url': {
        type: 'string',
        value: '<url>',
        description: 'token endpoint; https, or http on loopback (required)',
      },
      scopes: {
        type: 'string',
        value: '<list>',
        description: 'default scopes, separated by spaces or commas',
      },
      'auth-method': {
        type: 'string',
        value: '<method>',
        description:
          'client_secret_post (default), client_secret_basic or private_key_jwt (the key is ' +
          'then read instead of a secret)',
      },
      audience: { type: 'string', value: '<audience>', description: 'sent as `audience`' },
      resource: { type: 'string', value: '<uri>', description: 'sent as `resource` (RFC 8707)' },
      'key-id': { type: 'string', value: '<kid>', description: 'private_key_jwt: `kid` header' },
      'signing-alg': {
        type: 'string',
        value: '<alg>',
        description: 'private_key_jwt: RS256 (default), PS256, ES256 or EdDSA',
      },
      'secret-stdin': SECRET_STDIN,
      check: {
        type: 'boolean',
        description: 'request one token first; create nothing if it is refused',
      },
    },
    details: [
      'The client secret is read from standard input (--secret-stdin) or typed at a prompt ' +
        'that does not echo; it is never taken as an argument, because arguments end up in ' +
        'shell history and process listings.',
      'The document is validated exactly as the broker will read it.',
    ],
  },
  {
    id: 'profile list',
    summary: 'list client profiles (never their secrets)',
    positionals: [],
    options: {},
    details: [
      'One row per secret under the prefix: token URL, client id, scopes, auth method, ' +
        'current secret version and when it was put (last rotation).',
    ],
  },
  {
    id: 'profile show',
    summary: 'show one client profile (never its secret)',
    positionals: ['name'],
    options: {},
    details: [],
  },
  {
    id: 'profile rotate',
    summary: 'put a new client secret, proven first, then purge cached tokens',
    positionals: ['name'],
    options: { 'secret-stdin': SECRET_STDIN },
    details: [
      'In this order: 1) the new secret requests a token from the token server; if it is ' +
        'refused, nothing changes; 2) it is put as the new AWSCURRENT version; 3) the ' +
        "profile's cached tokens are removed from the shared table.",
      'For a private_key_jwt profile the new PKCS#8 PEM key is read instead of a secret.',
    ],
  },
  {
    id: 'tokens status',
    summary: 'show each cached token key: profile, scopes, time left, lease, cooldown',
    positionals: [],
    options: {
      profile: { type: 'string', value: '<name>', description: 'only this profile' },
    },
    details: ['Tokens are shown only as a short hash; the tokens themselves are never read.'],
  },
  {
    id: 'tokens purge',
    summary: "remove a profile's cached tokens from the shared table",
    positionals: ['name'],
    options: {},
    details: [
      'For a compromised token or a revoked client. Warm broker environments stop serving ' +
        'a purged token within a minute; callers keep the token they hold until it nears ' +
        'expiry or an API refuses it, so revoke a compromised token at the token server too.',
    ],
  },
  {
    id: 'sync run',
    summary: 'start one stock sync with a scheduled event and show its summary',
    positionals: [],
    options: {
      async: { type: 'boolean', description: "start it and return at once (Invoke type 'Event')" },
    },
    details: ['Exit code 1 when the run fails; its summary is still recorded (see sync last).'],
  },
  {
    id: 'sync last',
    summary: 'show the latest stock sync run summaries',
    positionals: [],
    options: {
      limit: { type: 'string', value: '<n>', description: 'how many runs; default 5' },
    },
    details: [],
  },
];

export const COMMAND_GROUPS = ['profile', 'tokens', 'sync'] as const;

export function commandSpec(id: CommandId): CommandSpec {
  const spec = COMMANDS.find((command) => command.id === id);
  if (!spec) throw new Error(`no command ${id}`);
  return spec;
}
