import { availableParallelism } from 'node:os'
import { configDefaults, defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The container tests build an image (minutes): `npm run test:container` (vitest.container.config.ts).
    exclude: [...configDefaults.exclude, 'test/container/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // vitest runs one worker per core but one: a single worker on 2 cores, where most files spend
    // their time waiting on child processes, sockets, brokers and timers. Two workers (forks, the
    // default pool) took the whole suite from about 420 s to about 230 s on 2 cores; three made
    // CPU-bound files slow enough to time out there. Bigger machines keep vitest's own count.
    maxWorkers: Math.max(2, availableParallelism() - 1),
  },
})
