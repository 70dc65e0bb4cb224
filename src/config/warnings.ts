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
  if (config.adminToken === null && config.databaseUrl !== null && !config.adminTurnedOff) {
    warnings.push(
      'the console is off: replicas on PostgreSQL need ADMIN_TOKEN set, the same on each (or ADMIN_TOKEN=off to say so)',
    )
  }
  return warnings
}
