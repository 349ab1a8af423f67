import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ViteUserConfig } from 'vitest/config';

const root = import.meta.dirname;

/** Workspace packages resolve to their TypeScript sources in tests, so a test never runs stale dist. */
function workspaceAliases(): Record<string, string> {
  const aliases: Record<string, string> = {};
  for (const dir of readdirSync(join(root, 'packages'))) {
    aliases[`@bramble/${dir}`] = resolve(root, 'packages', dir, 'src', 'index.ts');
  }
  aliases.brambled = resolve(root, 'apps', 'daemon', 'src', 'index.ts');
  return aliases;
}

export function sharedTestConfig(dir: string): ViteUserConfig {
  return {
    root: dir,
    resolve: { alias: workspaceAliases() },
    test: {
      include: ['test/**/*.test.ts'],
      testTimeout: 60_000,
      hookTimeout: 120_000,
      pool: 'forks',
      fileParallelism: false,
      reporters: ['default'],
    },
  };
}
