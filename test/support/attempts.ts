// Attempt outcomes for the store tests, as the dispatcher records them (delivery/attempt.ts).
import type { AttemptOutcome } from '../../src/store/types.ts'

/** A 2xx answer by `worker-1` at `now` (default: the current time); override what a test needs. */
export function outcome(overrides: Partial<AttemptOutcome> = {}): AttemptOutcome {
  const now = overrides.now ?? Date.now()
  return {
    owner: 'worker-1',
    now,
    httpStatus: 200,
    error: null,
    startedAt: now - 5,
    durationMs: 5,
    errorClass: null,
    responseExcerpt: '{"ok":true}',
    ...overrides,
  }
}
