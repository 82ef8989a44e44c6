/**
 * `npm run stack`: the local stack on its own, up until interrupted. Prints
 * one JSON line with its endpoints, so a developer, a test or a script can
 * drive it; client profiles may be added meanwhile with the real
 * SecretsManagerClient (`CreateSecret`, `PutSecretValue`).
 */
import { parseArgs } from 'node:util';
import { LOCAL_PROFILE, LOCAL_REGION, startLocalStack } from '../local/stack.js';
import { DEFAULT_SECRET_PREFIX } from '../shared/constants.js';

const USAGE = `Usage: npm run -s stack            (or: node --import tsx scripts/stack.ts)

Starts the local stack on 127.0.0.1 and prints one JSON line with its
endpoints, functions, tables and secret prefix; runs until SIGINT or SIGTERM,
then stops every server it started.`;

try {
  const { values } = parseArgs({ options: { help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
} catch (error) {
  console.error(`${(error as Error).message}\n\n${USAGE}`);
  process.exit(2);
}

// Standard output carries only the endpoints line; function logs go to stderr.
const stack = await startLocalStack({ onLog: (line) => process.stderr.write(`${line}\n`) });

console.log(
  JSON.stringify({
    region: LOCAL_REGION,
    endpoints: stack.endpoints,
    functions: {
      tokenBroker: stack.functionName('tokenBroker'),
      stockSync: stack.functionName('stockSync'),
    },
    tables: stack.tables,
    secretPrefix: DEFAULT_SECRET_PREFIX,
    profiles: [LOCAL_PROFILE],
  }),
);

const stop = () => {
  void stack.stop().then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
