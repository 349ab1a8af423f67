import { defineConfig } from 'vitest/config';
import { sharedTestConfig } from '../../vitest.shared.ts';

const base = sharedTestConfig(import.meta.dirname);

/**
 * Two projects: everything with the native pump (built by `pnpm test` first; a server test fails if it is
 * missing), and the server-side suites again with the TypeScript sender (BRAMBLE_TFTP_NATIVE=0), so both
 * engines are held to the same peers and rules.
 */
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    projects: [
      { extends: true, test: { name: 'native' } },
      {
        extends: true,
        test: {
          name: 'js',
          include: [
            'test/engine.test.ts',
            'test/server-protocol.test.ts',
            'test/server-features.test.ts',
            'test/interop-server.test.ts',
            'test/lossy.test.ts',
            'test/fuzz.test.ts',
            'test/fs-handler.test.ts',
            'test/security/*.test.ts',
          ],
          env: { BRAMBLE_TFTP_NATIVE: '0' },
        },
      },
    ],
  },
});
