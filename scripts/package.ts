/**
 * `npm run package`: renders the CloudFormation template and function zips
 * into `.serverless/` with osls, offline (stage `prod` unless `--stage` is
 * given). osls stages each function's zip in TMPDIR and never removes it, so
 * it gets a temporary folder of its own that is removed afterwards.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const args = process.argv.slice(2);
const stageGiven = args.includes('--stage') || args.some((arg) => arg.startsWith('--stage='));
const staging = mkdtempSync(path.join(tmpdir(), 'token-broker-package-'));

try {
  const osls = path.join('node_modules', 'osls', 'bin', 'serverless.js');
  const result = spawnSync(
    process.execPath,
    [osls, 'package', ...(stageGiven ? [] : ['--stage', 'prod']), ...args],
    { stdio: 'inherit', env: { ...process.env, TMPDIR: staging } },
  );
  process.exitCode = result.status ?? 1;
} finally {
  rmSync(staging, { recursive: true, force: true });
}
