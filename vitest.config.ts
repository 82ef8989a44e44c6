import { defineConfig } from 'vitest/config';

/*
 * Two projects: `unit` runs in parallel with faked SDK clients; `integration`
 * starts real local servers (dynalite, oidc-provider, serverless-offline),
 * so its files run one at a time to stay within two cores.
 */
export default defineConfig({
  test: {
    setupFiles: ['test/setup.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/local/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
