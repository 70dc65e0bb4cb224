import { configDefaults, defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The container tests build an image (minutes): `npm run test:container` (vitest.container.config.ts).
    exclude: [...configDefaults.exclude, 'test/container/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
})
