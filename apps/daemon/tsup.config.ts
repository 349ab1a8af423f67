import { defineConfig } from 'tsup';
import { appBuild } from '../../tsup.app.ts';

// brambled is also a library (startDaemon, createLogger): pino and zod appear in its types, so they
// stay dependencies; everything else is bundled.
export default defineConfig(
  appBuild({
    entry: ['src/index.ts', 'src/main.ts'],
    dts: true,
    external: ['pino', 'zod'],
  }),
);
