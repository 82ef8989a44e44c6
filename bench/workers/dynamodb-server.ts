/**
 * The benchmark's DynamoDB: dynalite with the product's tables, in a process
 * of its own as DynamoDB is a service of its own, so its work never shares a
 * thread with the stocks API and the token server in the benchmark's process
 * or with the function under test. Forked under tsx by
 * `bench/dynamodb-process.ts`; answers `endpoint` with the loopback URL it
 * listens on, and exits with its parent.
 */
import { startDynamoDb } from '../../local/dynamodb.js';
import type { CommandMessage, WorkerMessage } from '../../local/ipc-worker.js';

const dynamoDb = await startDynamoDb({ stage: process.argv[2] ?? '' });

function send(message: WorkerMessage): void {
  process.send?.(message);
}

process.on('message', ({ id, command }: CommandMessage) => {
  if (command.type === 'endpoint') send({ type: 'reply', id, result: dynamoDb.endpoint });
  else send({ type: 'failed', id, reason: `unknown command ${command.type}` });
});
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
