/**
 * Whole raw HTTP/1.1 replies for the fault proxy's `answer` mode, in the
 * shapes real services send when they refuse work.
 */

/** A raw HTTP/1.1 reply that closes its connection. */
export function rawHttpReply(
  status: number,
  reason: string,
  headers: Record<string, string>,
  body: string,
): string {
  const head = [
    `HTTP/1.1 ${status} ${reason}`,
    ...Object.entries({ ...headers, 'content-length': String(Buffer.byteLength(body)) }).map(
      ([name, value]) => `${name}: ${value}`,
    ),
    'connection: close',
  ];
  return `${head.join('\r\n')}\r\n\r\n${body}`;
}

/**
 * A DynamoDB error in the AWS JSON 1.0 protocol shape: status 400, the
 * type both in the body's `__type` and in `x-amzn-errortype`.
 */
export function dynamoDbError(type: string, message: string): string {
  return rawHttpReply(
    400,
    'Bad Request',
    {
      'content-type': 'application/x-amz-json-1.0',
      'x-amzn-requestid': 'fault-proxy-request',
      'x-amzn-errortype': type,
    },
    JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${type}`, message }),
  );
}

/** DynamoDB refusing work for lack of capacity; the SDK treats it as throttling. */
export const DYNAMODB_THROTTLED = dynamoDbError(
  'ProvisionedThroughputExceededException',
  'The level of configured provisioned throughput for the table was exceeded.',
);
