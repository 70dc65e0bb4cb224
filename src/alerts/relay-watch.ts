// Conditions of the relay and its targets that are read off their state each round:
//   target.backlog: a pushed target's oldest pending event older than the setting (a paused one
//     is left alone: the operator holds it); resolved when it is younger or nothing waits;
//   stream.no_consumer: a stream target's events waiting over a minute with no consumer
//     connected to this replica; resolved once one connects or nothing waits;
//   relay.refusals: at least the setting of webhook requests refused within five minutes (a wrong
//     token in WhatsGate's callback looks like this); resolved after five minutes without one;
//   session.unregistered: WhatsGate's set-hook failing for a session; resolved once it succeeds.
import type { TargetType } from '../delivery/targets.ts'
import type { AlertRow, OutboxStore } from '../store/types.ts'
import type { RegistrationStatus } from '../whatsgate/registrar.ts'

export interface RelayWatchSettings {
  /** A pushed target's oldest pending event this old opens target.backlog. */
  backlogMs: number
  /** Refused webhook requests within five minutes that open relay.refusals; 0 = off. */
  refusals: number
}

export interface RelayWatchDeps {
  store: OutboxStore
  settings: RelayWatchSettings
  targets: readonly { name: string; type: TargetType }[]
  /** Consumers connected to this replica, per stream target; null without stream targets. */
  streamConsumers: () => Map<string, number> | null
  /** WhatsGate registration per session; null when the relay does not register. */
  registration: () => RegistrationStatus | null
}

const NO_CONSUMER_AFTER_MS = 60_000
const REFUSALS_WINDOW_MS = 5 * 60_000

export function createRelayWatch({
  store,
  settings,
  targets,
  streamConsumers,
  registration,
}: RelayWatchDeps) {
  const refused: { at: number; reason: string }[] = []
  let now = () => Date.now()

  async function openOrResolve(
    open: AlertRow[],
    condition: string,
    subject: string,
    session: string | null,
    detail: string | null,
    at: number,
  ): Promise<void> {
    if (detail !== null) {
      await store.openAlert({ condition, subject, session, detail, at })
    } else if (open.some((row) => row.condition === condition && row.subject === subject)) {
      await store.resolveAlert(condition, subject, at)
    }
  }

  return {
    /** The clock refusals are stamped with (the evaluator's). */
    useClock(clock: () => number): void {
      now = clock
    },

    /** A webhook request refused (ingest/refusals.ts); an unknown path is a scanner, not WhatsGate. */
    refused(reason: string): void {
      if (settings.refusals <= 0 || reason === 'not_found') return
      refused.push({ at: now(), reason })
      // Bounded: only the window's count matters, and it opens at `refusals`.
      if (refused.length > Math.max(1000, settings.refusals * 2)) refused.shift()
    },

    async check(open: AlertRow[], at: number): Promise<void> {
      const [backlog, paused] = await Promise.all([store.backlog(), store.pausedTargets()])
      const consumers = streamConsumers()
      for (const target of targets) {
        const waiting = backlog.get(target.name)
        const age = waiting ? at - waiting.oldestReceivedAt : 0
        if (target.type === 'stream') {
          const none = (consumers?.get(target.name) ?? 0) === 0
          await openOrResolve(
            open,
            'stream.no_consumer',
            target.name,
            null,
            waiting && none && age > NO_CONSUMER_AFTER_MS
              ? `${waiting.pending} waiting, the oldest for ${Math.round(age / 60_000)} min, no consumer connected`
              : null,
            at,
          )
        } else {
          await openOrResolve(
            open,
            'target.backlog',
            target.name,
            null,
            waiting && !paused.has(target.name) && age > settings.backlogMs
              ? `${waiting.pending} waiting, the oldest for ${Math.round(age / 60_000)} min`
              : null,
            at,
          )
        }
      }

      while (refused.length > 0 && (refused[0]?.at ?? at) <= at - REFUSALS_WINDOW_MS) refused.shift()
      let detail: string | null = null
      if (settings.refusals > 0 && refused.length >= settings.refusals) {
        const byReason = new Map<string, number>()
        for (const { reason } of refused) byReason.set(reason, (byReason.get(reason) ?? 0) + 1)
        const reasons = [...byReason].map(([reason, count]) => `${reason}: ${count}`).join(', ')
        detail = `${refused.length} webhook requests refused in 5 minutes (${reasons})`
      }
      if (detail !== null || refused.length === 0)
        await openOrResolve(open, 'relay.refusals', '', null, detail, at)

      const status = registration()
      for (const session of status?.sessions ?? []) {
        if (session.outcome === 'pending') continue
        await openOrResolve(
          open,
          'session.unregistered',
          session.whatsappId,
          session.whatsappId,
          session.outcome === 'failed' ? `set-hook failing: ${session.error ?? 'no answer'}` : null,
          at,
        )
      }
    },
  }
}
