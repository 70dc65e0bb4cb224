// `npm run test:container`: the image built and run by a container engine (test/container). Apart
// from `npm test`, whose time budget a first build (minutes) would take: vitest.config.ts leaves
// test/container out. One file at a time, with the build's long hook timeout.
import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/container/**/*.test.ts'],
    testTimeout: 5 * 60_000,
    hookTimeout: 60 * 60_000,
    fileParallelism: false,
  },
})
