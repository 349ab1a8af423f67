import { join } from 'node:path';
import { defineConfig } from 'tsup';
import { appBuild } from '../../tsup.app.ts';

// One self-contained file: brambled is bundled from its source, not from its own bundle.
export default defineConfig(
  appBuild({
    entry: ['src/index.ts'],
    alias: { brambled: join(import.meta.dirname, '..', 'daemon', 'src', 'index.ts') },
  }),
);
