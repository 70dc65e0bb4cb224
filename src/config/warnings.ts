// What a configuration leaves undone that the operator must hear of, though the relay runs:
// logged at `warn` at start and shown in /readyz's body for as long as the relay runs so.
import type { Config } from './config.ts'

export function configWarnings(config: Config): string[] {
  const warnings: string[] = []
  if (config.targets.length === 0) {
    warnings.push(
      'no target configured: events are stored and acknowledged but forwarded nowhere (set FORWARD_URL, TARGETS or TARGETS_FILE)',
    )
  }
  return warnings
}
