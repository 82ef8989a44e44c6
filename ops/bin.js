#!/usr/bin/env node
// The `token-broker-ops` bin: loads TypeScript through tsx's loader API,
// resolved from this repository, then runs the CLI.
import { register } from 'tsx/esm/api';

register();
await import('./cli.ts');
