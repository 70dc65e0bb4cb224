// Targets as an operator writes them, read through TARGETS, with the warnings the reading gave.
import { afterEach } from 'vitest'
import { loadTargets } from '../../src/config/target-sources.ts'
import type { Target } from '../../src/delivery/targets.ts'

/** A Standard Webhooks secret of 32 bytes. */
export const SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`

/** The warnings of this test so far (emptied after each test), and the function that collects them. */
export function collectWarnings() {
  const warnings: string[] = []
  afterEach(() => {
    warnings.length = 0
  })
  return { warnings, warn: (msg: string) => void warnings.push(msg) }
}

/** Through TARGETS, so each message is checked as an operator reads it: with its source's label. */
export function loaderOf(warn: (msg: string) => void) {
  return (targets: unknown): Target[] => loadTargets({ targets: JSON.stringify(targets) }, warn)
}
