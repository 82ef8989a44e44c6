/**
 * Entry point of the operations CLI: `npm run -s ops -- <command>`, or the
 * `token-broker-ops` bin. `--help` lists the commands and exit codes.
 */
import { runCli } from './main.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

process.exitCode = await runCli(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
});
