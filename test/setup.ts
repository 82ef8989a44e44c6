/*
 * Every test talks to fakes or to servers on 127.0.0.1. Static credentials and
 * a disabled instance metadata lookup make sure the AWS SDK never goes looking
 * for real ones anywhere else.
 */
process.env.AWS_ACCESS_KEY_ID ??= 'local-test-key';
process.env.AWS_SECRET_ACCESS_KEY ??= 'local-test-secret';
process.env.AWS_REGION ??= 'eu-west-1';
process.env.AWS_EC2_METADATA_DISABLED = 'true';
process.env.POWERTOOLS_DEV ??= 'false';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
