/*
 * Renders the deployment template offline with the same osls command as
 * `npm run package` and checks what a reviewer of the stack would check:
 * runtimes, tables as the local stack creates them, the nightly schedule and
 * its dead letters, and least-privilege roles. Nothing is resolved; the
 * literals of the template are inspected as CloudFormation would receive them.
 *
 * The command runs in a scratch service directory (a copy of serverless.yml,
 * links to everything else), because osls deletes `<service>/.serverless`
 * while packaging; a developer's own `npm run package` output stays intact.
 * Its environment holds no AWS credentials, and none are needed.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, symlink } from 'node:fs/promises';
import { devNull, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { tableDefinitions, tableNames, TABLE_KEYS } from '../../local/tables.js';
import { ENV } from '../../shared/config.js';
import {
  DEFAULT_SECRET_PREFIX,
  DEFAULT_STOCK_SYNC_CLIENT,
  DEFAULT_STOCKS_API_URL,
} from '../../shared/constants.js';

const REPOSITORY_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const STAGE = 'prod';
const PACKAGE_TIMEOUT_MS = 120_000;
const NIGHTLY_SCHEDULE = 'cron(0 2 * * ? *)';
const BROKER_FUNCTION_NAME = `token-broker-${STAGE}-tokenBroker`;
const STOCK_SYNC_FUNCTION_NAME = `token-broker-${STAGE}-stockSync`;

/** Build output and local state that a scratch service directory must not share. */
const NOT_LINKED = new Set(['.git', '.serverless', '.esbuild', '.local', 'serverless.yml']);

type Json = Record<string, unknown>;

interface Resource {
  Type: string;
  Properties: Json;
  DependsOn?: string | string[];
}

interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action?: unknown;
  NotAction?: unknown;
  Resource?: unknown;
  NotResource?: unknown;
  Condition?: Json;
}

let scratchDir: string;
let resources: Record<string, Resource>;

beforeAll(async () => {
  scratchDir = await mkdtemp(path.join(tmpdir(), 'token-broker-package-'));
  const serviceDir = await scratchServiceDirectory(path.join(scratchDir, 'service'));
  const outputDir = path.join(scratchDir, 'package');

  await packageOffline(serviceDir, outputDir, path.join(scratchDir, 'home'));

  const template = JSON.parse(
    await readFile(path.join(outputDir, 'cloudformation-template-update-stack.json'), 'utf8'),
  ) as { Resources: Record<string, Resource> };
  resources = template.Resources;
}, PACKAGE_TIMEOUT_MS + 30_000);

afterAll(async () => {
  if (scratchDir) await rm(scratchDir, { recursive: true, force: true });
});

describe('the packaged functions', () => {
  it('run on nodejs22.x or a later runtime, on arm64', () => {
    for (const name of [BROKER_FUNCTION_NAME, STOCK_SYNC_FUNCTION_NAME]) {
      const { Properties } = functionNamed(name);

      expect(nodeMajorOf(Properties.Runtime)).toBeGreaterThanOrEqual(22);
      expect(Properties.Architectures).toEqual(['arm64']);
    }
  });

  it('point at the handlers under functions/', () => {
    expect(functionNamed(BROKER_FUNCTION_NAME).Properties.Handler).toBe(
      'functions/token-broker/handler.handler',
    );
    expect(functionNamed(STOCK_SYNC_FUNCTION_NAME).Properties.Handler).toBe(
      'functions/stock-sync/handler.handler',
    );
  });

  it('give the broker its table and secret prefix', () => {
    const variables = environmentOf(BROKER_FUNCTION_NAME);

    expect(variables[ENV.tokensTable]).toBe(tableNames(STAGE).tokens);
    expect(variables[ENV.secretPrefix]).toBe(DEFAULT_SECRET_PREFIX);
    expect(variables.POWERTOOLS_SERVICE_NAME).toBeTruthy();
    expect(variables.POWERTOOLS_LOG_LEVEL).toBeTruthy();
    expect(variables.POWERTOOLS_METRICS_NAMESPACE).toBeTruthy();
  });

  it('give the stock sync the broker, the Farfetch defaults and its two tables', () => {
    const variables = environmentOf(STOCK_SYNC_FUNCTION_NAME);

    expect(variables[ENV.tokenBrokerFunction]).toBe(BROKER_FUNCTION_NAME);
    expect(variables[ENV.stockSyncClient]).toBe(DEFAULT_STOCK_SYNC_CLIENT);
    expect(variables[ENV.stocksApiUrl]).toBe(DEFAULT_STOCKS_API_URL);
    expect(variables[ENV.stocksTable]).toBe(tableNames(STAGE).stocks);
    expect(variables[ENV.syncRunsTable]).toBe(tableNames(STAGE).syncRuns);
    expect(variables.POWERTOOLS_SERVICE_NAME).toBeTruthy();
  });
});

describe('the tables', () => {
  it('have the names, keys and billing mode the local stack creates', () => {
    for (const expected of tableDefinitions(STAGE)) {
      const { Properties } = tableNamed(expected.TableName as string);

      expect(Properties.KeySchema).toEqual(expected.KeySchema);
      expect(Properties.AttributeDefinitions).toEqual(expected.AttributeDefinitions);
      expect(Properties.BillingMode).toBe(expected.BillingMode);
    }
  });

  it('expire items by the TTL attribute that TABLE_KEYS names, and only those', () => {
    for (const table of Object.keys(TABLE_KEYS) as (keyof typeof TABLE_KEYS)[]) {
      const { Properties } = tableNamed(tableNames(STAGE)[table]);
      const ttlAttribute = TABLE_KEYS[table].ttlAttribute;

      expect(Properties.TimeToLiveSpecification).toEqual(
        ttlAttribute ? { AttributeName: ttlAttribute, Enabled: true } : undefined,
      );
    }
  });

  it('encrypt cached tokens with a customer-managed key declared in the template', () => {
    const sse = tableNamed(tableNames(STAGE).tokens).Properties.SSESpecification as Json;

    expect(sse).toMatchObject({ SSEEnabled: true, SSEType: 'KMS' });
    const keyId = referencedLogicalId(sse.KMSMasterKeyId);
    expect(resources[keyId]?.Type).toBe('AWS::KMS::Key');
    expect(resources[keyId]?.Properties.EnableKeyRotation).toBe(true);
  });

  it('keep point-in-time recovery for stocks and sync runs', () => {
    for (const name of [tableNames(STAGE).stocks, tableNames(STAGE).syncRuns]) {
      expect(tableNamed(name).Properties.PointInTimeRecoverySpecification).toEqual({
        PointInTimeRecoveryEnabled: true,
      });
    }
  });
});

describe('the token refresh schedule', () => {
  it('invokes the broker every five minutes with a refresh request for the farfetch profile', () => {
    const [, rule] = findResource('AWS::Events::Rule', 'ScheduleExpression', 'rate(5 minutes)');

    const target = targetOf(rule);
    expect(rule.Properties.State).toBe('ENABLED');
    expect(target.Arn).toEqual({
      'Fn::GetAtt': [logicalIdOfFunction(BROKER_FUNCTION_NAME), 'Arn'],
    });
    // A number: the handler refuses a look-ahead given as a string.
    expect(JSON.parse(target.Input as string)).toEqual({
      action: 'refresh',
      clients: ['farfetch'],
      withinSecs: 360,
    });
  });

  it('gives the broker time to wait out a dead lease holder and fetch', () => {
    expect(functionNamed(BROKER_FUNCTION_NAME).Properties.Timeout).toBeGreaterThanOrEqual(20);
  });
});

describe('the nightly stock sync schedule', () => {
  it('starts the stock sync at 02:00 UTC', () => {
    const rule = nightlyRule();

    expect(rule.Properties.State).toBe('ENABLED');
    expect(targetOf(rule).Arn).toEqual({
      'Fn::GetAtt': [logicalIdOfFunction(STOCK_SYNC_FUNCTION_NAME), 'Arn'],
    });
  });

  it('retries a failed delivery within a bounded age', () => {
    const retryPolicy = targetOf(nightlyRule()).RetryPolicy as Json;

    expect(retryPolicy.MaximumRetryAttempts).toBeGreaterThan(0);
    expect(retryPolicy.MaximumEventAgeInSeconds).toBeGreaterThanOrEqual(60);
  });

  it('dead-letters undeliverable runs to a queue that lets only this rule send', () => {
    const deadLetterConfig = targetOf(nightlyRule()).DeadLetterConfig as Json;
    const queueId = referencedLogicalId(deadLetterConfig.Arn);
    expect(resources[queueId]?.Type).toBe('AWS::SQS::Queue');

    const [statement, ...others] = queuePolicyStatements(queueId);
    expect(others).toEqual([]);
    expect(statement).toMatchObject({
      Effect: 'Allow',
      Principal: { Service: 'events.amazonaws.com' },
      Action: 'sqs:SendMessage',
      Resource: { 'Fn::GetAtt': [queueId, 'Arn'] },
    });
    expect(JSON.stringify(statement?.Condition)).toContain(
      `:rule/${nightlyRule().Properties.Name as string}`,
    );
  });

  it('sends runs that failed inside the function to the same queue', () => {
    const queueId = referencedLogicalId((targetOf(nightlyRule()).DeadLetterConfig as Json).Arn);
    const [, invokeConfig] = resourcesOfType('AWS::Lambda::EventInvokeConfig').find(
      ([, config]) =>
        referencedLogicalId(config.Properties.FunctionName) ===
        logicalIdOfFunction(STOCK_SYNC_FUNCTION_NAME),
    ) ?? [undefined, undefined];

    expect(invokeConfig?.Properties.DestinationConfig).toEqual({
      OnFailure: { Destination: { 'Fn::GetAtt': [queueId, 'Arn'] } },
    });
  });
});

describe('the execution roles', () => {
  it('are one per function, declared in the template', () => {
    const brokerRoleId = roleIdOf(BROKER_FUNCTION_NAME);
    const stockSyncRoleId = roleIdOf(STOCK_SYNC_FUNCTION_NAME);

    expect(brokerRoleId).not.toBe(stockSyncRoleId);
    expect(resources[brokerRoleId]?.Type).toBe('AWS::IAM::Role');
    expect(resources[stockSyncRoleId]?.Type).toBe('AWS::IAM::Role');
    expect(resourcesOfType('AWS::IAM::Role')).toHaveLength(2);
  });

  it('grant no wildcard action and no "*" resource in any statement that allows', () => {
    const allowing = iamRolePolicyStatements().filter(({ Effect }) => Effect === 'Allow');

    expect(allowing.length).toBeGreaterThan(0);
    for (const statement of allowing) {
      expect(statement.NotAction).toBeUndefined();
      expect(statement.NotResource).toBeUndefined();
      for (const action of asList(statement.Action)) expect(action).not.toContain('*');
      for (const resource of asList(statement.Resource)) expect(resource).not.toBe('*');
    }
  });

  it('end a granted resource in a wildcard only for the secret prefix and own log streams', () => {
    const wildcards = iamRolePolicyStatements()
      .flatMap((statement) => asList(statement.Resource))
      .map(literalOf)
      .filter((resource) => resource?.includes('*'));

    expect(wildcards.length).toBeGreaterThan(0);
    for (const resource of wildcards) {
      expect(resource).toMatch(
        new RegExp(
          `(:secret:${escapeRegExp(DEFAULT_SECRET_PREFIX)}\\*|:log-group:\\$\\{\\w+LogGroup\\}:log-stream:\\*)$`,
        ),
      );
    }
  });

  it('leave "*" resources to key policies and "*" actions to the deploy bucket\'s TLS deny', () => {
    for (const [, resource] of Object.entries(resources)) {
      const keyPolicy = resource.Properties?.KeyPolicy as { Statement: Statement[] } | undefined;
      for (const statement of keyPolicy?.Statement ?? []) {
        for (const action of asList(statement.Action)) expect(action).not.toContain('*');
      }
    }
    const broadDenies = policyStatementsOf('AWS::S3::BucketPolicy').filter((statement) =>
      asList(statement.Action).some((action) => String(action).includes('*')),
    );
    for (const statement of broadDenies) {
      expect(statement.Effect).toBe('Deny');
      expect(statement.Condition).toEqual({ Bool: { 'aws:SecureTransport': false } });
    }
  });

  it('let the broker alone read secrets, and only under the client profile prefix', () => {
    const brokerGrants = grantsOf(BROKER_FUNCTION_NAME, 'secretsmanager:');

    expect(brokerGrants.actions).toEqual(['secretsmanager:GetSecretValue']);
    expect(brokerGrants.resources.map(literalOf)).toEqual([
      `arn:\${AWS::Partition}:secretsmanager:\${AWS::Region}:\${AWS::AccountId}:secret:${DEFAULT_SECRET_PREFIX}*`,
    ]);
    expect(grantsOf(STOCK_SYNC_FUNCTION_NAME, 'secretsmanager:').actions).toEqual([]);
  });

  it('let the broker read and write its tokens table and use its key, nothing else', () => {
    const tokensTableId = logicalIdOfTable(tableNames(STAGE).tokens);
    const dynamoDb = grantsOf(BROKER_FUNCTION_NAME, 'dynamodb:');
    const kms = grantsOf(BROKER_FUNCTION_NAME, 'kms:');

    expect(dynamoDb.actions.sort()).toEqual(['dynamodb:GetItem', 'dynamodb:UpdateItem']);
    expect(dynamoDb.resources).toEqual([{ 'Fn::GetAtt': [tokensTableId, 'Arn'] }]);
    const keyId = referencedLogicalId(
      (tableNamed(tableNames(STAGE).tokens).Properties.SSESpecification as Json).KMSMasterKeyId,
    );
    expect(kms.resources).toEqual([{ 'Fn::GetAtt': [keyId, 'Arn'] }]);
    expect(grantsOf(BROKER_FUNCTION_NAME, 'lambda:').actions).toEqual([]);
  });

  it('let the stock sync invoke the broker function and nothing else', () => {
    const lambda = grantsOf(STOCK_SYNC_FUNCTION_NAME, 'lambda:');

    expect(lambda.actions).toEqual(['lambda:InvokeFunction']);
    expect(lambda.resources).toEqual([
      { 'Fn::GetAtt': [logicalIdOfFunction(BROKER_FUNCTION_NAME), 'Arn'] },
    ]);
  });

  it('let the stock sync write its two tables only, and not read or touch the tokens', () => {
    const dynamoDb = grantsOf(STOCK_SYNC_FUNCTION_NAME, 'dynamodb:');

    expect(dynamoDb.actions.sort()).toEqual(
      ['dynamodb:BatchWriteItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'].sort(),
    );
    expect(dynamoDb.resources).toEqual([
      { 'Fn::GetAtt': [logicalIdOfTable(tableNames(STAGE).stocks), 'Arn'] },
      { 'Fn::GetAtt': [logicalIdOfTable(tableNames(STAGE).syncRuns), 'Arn'] },
    ]);
    expect(grantsOf(STOCK_SYNC_FUNCTION_NAME, 'kms:').actions).toEqual([]);
  });

  it("let each function write only its own log group's streams", () => {
    for (const name of [BROKER_FUNCTION_NAME, STOCK_SYNC_FUNCTION_NAME]) {
      const logGroupId = logicalIdOfLogGroup(name);
      const logs = grantsOf(name, 'logs:');

      expect(logs.actions.sort()).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents']);
      for (const resource of logs.resources) {
        expect(JSON.stringify(resource)).toContain(logGroupId);
      }
    }
  });
});

// --- Packaging ---------------------------------------------------------------

async function scratchServiceDirectory(dir: string): Promise<string> {
  await mkdir(dir);
  const entries = await readdir(REPOSITORY_ROOT);

  await Promise.all(
    entries
      .filter((entry) => !NOT_LINKED.has(entry))
      .map((entry) => symlink(path.join(REPOSITORY_ROOT, entry), path.join(dir, entry))),
  );
  // osls refuses a configuration file that is a symbolic link.
  await copyFile(path.join(REPOSITORY_ROOT, 'serverless.yml'), path.join(dir, 'serverless.yml'));
  return dir;
}

/** `npm run package`, written out so that no npm process is involved. */
async function packageOffline(cwd: string, outputDir: string, home: string): Promise<void> {
  const osls = path.join(cwd, 'node_modules', 'osls', 'bin', 'serverless.js');
  const args = [osls, 'package', '--stage', STAGE, '--package', outputDir];
  // osls stages each function's zip in TMPDIR and leaves it there.
  await mkdir(path.join(path.dirname(home), 'tmp'), { recursive: true });

  try {
    await promisify(execFile)(process.execPath, args, {
      cwd,
      timeout: PACKAGE_TIMEOUT_MS,
      maxBuffer: 16 * 1024 * 1024,
      env: offlineEnvironment(home),
    });
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(`osls package failed:\n${stdout}\n${stderr}`, { cause: error });
  }
}

/** No AWS credentials, profile or metadata lookup: packaging needs none. */
function offlineEnvironment(home: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    // osls keeps a schema cache in ~/.serverless; keep it out of the real home.
    HOME: home,
    TMPDIR: path.join(path.dirname(home), 'tmp'),
    NO_COLOR: '1',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: devNull,
    AWS_SHARED_CREDENTIALS_FILE: devNull,
  };
}

// --- Template lookups -----------------------------------------------------------

function resourcesOfType(type: string): [string, Resource][] {
  return Object.entries(resources).filter(([, resource]) => resource.Type === type);
}

function findResource(type: string, property: string, value: string): [string, Resource] {
  const found = resourcesOfType(type).find(
    ([, resource]) => resource.Properties[property] === value,
  );
  if (!found) throw new Error(`no ${type} with ${property} ${value} in the template`);
  return found;
}

function functionNamed(name: string): Resource {
  return findResource('AWS::Lambda::Function', 'FunctionName', name)[1];
}

function logicalIdOfFunction(name: string): string {
  return findResource('AWS::Lambda::Function', 'FunctionName', name)[0];
}

function tableNamed(name: string): Resource {
  return findResource('AWS::DynamoDB::Table', 'TableName', name)[1];
}

function logicalIdOfTable(name: string): string {
  return findResource('AWS::DynamoDB::Table', 'TableName', name)[0];
}

function logicalIdOfLogGroup(functionName: string): string {
  return findResource('AWS::Logs::LogGroup', 'LogGroupName', `/aws/lambda/${functionName}`)[0];
}

function environmentOf(functionName: string): Record<string, string> {
  const environment = functionNamed(functionName).Properties.Environment as {
    Variables: Record<string, string>;
  };
  return environment.Variables;
}

function nightlyRule(): Resource {
  return findResource('AWS::Events::Rule', 'ScheduleExpression', NIGHTLY_SCHEDULE)[1];
}

function targetOf(rule: Resource): Json {
  const targets = rule.Properties.Targets as Json[];
  expect(targets).toHaveLength(1);
  return targets[0] as Json;
}

function queuePolicyStatements(queueId: string): Statement[] {
  const policies = resourcesOfType('AWS::SQS::QueuePolicy').filter(([, policy]) =>
    asList(policy.Properties.Queues).some((queue) => referencedLogicalId(queue) === queueId),
  );
  return policies.flatMap(([, policy]) => statementsOf(policy.Properties.PolicyDocument));
}

/** The logical id a `Ref` or `Fn::GetAtt` points at. */
function referencedLogicalId(value: unknown): string {
  const reference = value as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
  const id = reference.Ref ?? reference['Fn::GetAtt']?.[0];
  if (!id) throw new Error(`not a reference: ${JSON.stringify(value)}`);
  return id;
}

// --- IAM lookups ----------------------------------------------------------------

function roleIdOf(functionName: string): string {
  return referencedLogicalId(functionNamed(functionName).Properties.Role);
}

function roleStatements(roleId: string): Statement[] {
  const policies = (resources[roleId]?.Properties.Policies ?? []) as { PolicyDocument: unknown }[];
  return policies.flatMap(({ PolicyDocument }) => statementsOf(PolicyDocument));
}

function iamRolePolicyStatements(): Statement[] {
  const attachedPolicies = [
    ...policyStatementsOf('AWS::IAM::Policy'),
    ...policyStatementsOf('AWS::IAM::ManagedPolicy'),
  ];
  const inlinePolicies = resourcesOfType('AWS::IAM::Role').flatMap(([id]) => roleStatements(id));
  return [...inlinePolicies, ...attachedPolicies];
}

function policyStatementsOf(type: string): Statement[] {
  return resourcesOfType(type).flatMap(([, resource]) =>
    statementsOf(resource.Properties.PolicyDocument),
  );
}

/** Actions and resources a function's role allows for one service prefix. */
function grantsOf(functionName: string, servicePrefix: string) {
  const statements = roleStatements(roleIdOf(functionName)).filter(
    (statement) =>
      statement.Effect === 'Allow' &&
      asList(statement.Action).some((action) => String(action).startsWith(servicePrefix)),
  );
  return {
    actions: statements.flatMap((statement) => asList(statement.Action)).map(String),
    resources: statements.flatMap((statement) => asList(statement.Resource)),
  };
}

function statementsOf(document: unknown): Statement[] {
  return asList((document as { Statement?: unknown } | undefined)?.Statement) as Statement[];
}

function asList(value: unknown): unknown[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** A plain string, or the template string of an `Fn::Sub`. */
function literalOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  const sub = (value as { 'Fn::Sub'?: unknown })['Fn::Sub'];
  return typeof sub === 'string' ? sub : undefined;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function nodeMajorOf(runtime: unknown): number {
  const match = /^nodejs(\d+)\.x$/.exec(String(runtime));
  return match ? Number(match[1]) : Number.NaN;
}

// --- Alarms and dashboard ---------------------------------------------------------

describe('the alarms and the dashboard', () => {
  const METRICS_NAMESPACE = 'TokenBroker';
  let conditions: Record<string, unknown>;

  beforeAll(async () => {
    const template = JSON.parse(
      await readFile(
        path.join(scratchDir, 'package', 'cloudformation-template-update-stack.json'),
        'utf8',
      ),
    ) as { Conditions?: Record<string, unknown> };
    conditions = template.Conditions ?? {};
  });

  function alarmTopicId(): string {
    const topics = resourcesOfType('AWS::SNS::Topic');
    expect(topics).toHaveLength(1);
    return topics[0]![0];
  }

  function alarmOn(namespace: unknown, metricName: string): Resource {
    const found = resourcesOfType('AWS::CloudWatch::Alarm').find(
      ([, alarm]) =>
        alarm.Properties.Namespace === namespace && alarm.Properties.MetricName === metricName,
    );
    if (!found) throw new Error(`no alarm on ${String(namespace)} ${metricName}`);
    return found[1];
  }

  /** The metric a log metric filter on the broker's log group counts for a refusal code. */
  function brokerCodeMetric(code: string): string {
    const brokerLogGroupId = logicalIdOfLogGroup(BROKER_FUNCTION_NAME);
    const filter = resourcesOfType('AWS::Logs::MetricFilter').find(
      ([, candidate]) =>
        referencedLogicalId(candidate.Properties.LogGroupName) === brokerLogGroupId &&
        String(candidate.Properties.FilterPattern).includes(`$.code = "${code}"`),
    )?.[1];
    if (!filter) throw new Error(`no metric filter for ${code}`);
    expect(filter.Properties.FilterPattern).toContain('$.message = "broker replied with an error"');
    const [transformation] = filter.Properties.MetricTransformations as Json[];
    expect(transformation?.MetricNamespace).toBe(METRICS_NAMESPACE);
    return transformation?.MetricName as string;
  }

  it('route every alarm to one SNS topic, and only to it', () => {
    const topicId = alarmTopicId();
    const alarms = resourcesOfType('AWS::CloudWatch::Alarm');

    expect(alarms.length).toBeGreaterThanOrEqual(6);
    for (const [, alarm] of alarms) {
      expect(alarm.Properties.AlarmActions).toEqual([{ Ref: topicId }]);
    }
  });

  it('subscribe the alarmEmail parameter by email, only when it is set', () => {
    const [, subscription] = resourcesOfType('AWS::SNS::Subscription')[0] ?? [];
    const conditionName = (subscription as { Condition?: string } | undefined)?.Condition;

    expect(subscription?.Properties).toMatchObject({
      Protocol: 'email',
      TopicArn: { Ref: alarmTopicId() },
      // The parameter's default: no address.
      Endpoint: '',
    });
    expect(conditions[conditionName ?? '']).toEqual({ 'Fn::Not': [{ 'Fn::Equals': ['', ''] }] });
  });

  it('alarm on failed stock sync runs and on messages in its dead-letter queue', () => {
    const failures = alarmOn('AWS/Lambda', 'Errors');
    const queueId = referencedLogicalId((targetOf(nightlyRule()).DeadLetterConfig as Json).Arn);
    const deadLetters = alarmOn('AWS/SQS', 'ApproximateNumberOfMessagesVisible');

    expect(failures.Properties.Dimensions).toEqual([
      { Name: 'FunctionName', Value: { Ref: logicalIdOfFunction(STOCK_SYNC_FUNCTION_NAME) } },
    ]);
    expect(failures.Properties.Threshold).toBe(1);
    expect(deadLetters.Properties.Dimensions).toEqual([
      { Name: 'QueueName', Value: { 'Fn::GetAtt': [queueId, 'QueueName'] } },
    ]);
    expect(deadLetters.Properties.Threshold).toBe(1);
  });

  it("alarm on the broker's refusals, invalid_client and invalid_scope each", () => {
    const refusals = alarmOn(METRICS_NAMESPACE, 'Refusal');

    expect(refusals.Properties.Dimensions).toEqual([{ Name: 'service', Value: 'token-broker' }]);
    for (const code of ['invalid_client', 'invalid_scope']) {
      expect(alarmOn(METRICS_NAMESPACE, brokerCodeMetric(code)).Properties.Threshold).toBe(1);
    }
  });

  it('alarm when the token server stays unavailable', () => {
    const alarm = alarmOn(METRICS_NAMESPACE, brokerCodeMetric('token_endpoint_unavailable'));

    expect(alarm.Properties.EvaluationPeriods).toBeGreaterThanOrEqual(2);
  });

  it("chart the broker's cache tiers, token requests and lease waits, and the sync's items and duration", () => {
    const dashboards = resourcesOfType('AWS::CloudWatch::Dashboard');
    expect(dashboards).toHaveLength(1);
    const body = literalOf(dashboards[0]![1].Properties.DashboardBody) ?? '';
    // `${...}` stand for values CloudFormation substitutes inside JSON strings.
    const widgets = (
      JSON.parse(body.replace(/\$\{[^}]+\}/g, 'x')) as {
        widgets: { type: string; properties: { metrics?: unknown[][] } }[];
      }
    ).widgets;
    const charted = widgets
      .flatMap((widget) => widget.properties.metrics ?? [])
      .map((metric) => `${String(metric[0])}/${String(metric[1])}`);

    for (const metric of [
      'BrokerMemoryHit',
      'SharedCacheHit',
      'TokenRequest',
      'LeaseWait',
      'ItemsWritten',
      'ItemsRejected',
      'SyncDuration',
    ]) {
      expect(charted).toContain(`${METRICS_NAMESPACE}/${metric}`);
    }
    expect(widgets.some((widget) => widget.type === 'alarm')).toBe(true);
  });
});
