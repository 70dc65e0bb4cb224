// The circuit breaker: a target failing for longer than its ALERT_BREAKER time is paused (in the
// store, for every replica: its events wait, nothing is dropped) and target.breaker opens to say
// so. Every probe interval it is resumed for one round: the dispatcher, which sends a failing
// target one request at a time, tries it; answered 2xx, the target stays resumed and the
// condition resolves; still failing, it is paused again at that answer (its next request may
// already be on its way), until the next probe. Its state is kept in the store, so a restart
// neither forgets a target it paused nor pauses it twice.
import type { OutboxStore } from '../store/types.ts'

export interface BreakerSettings {
  /** Per target, how long it may fail before it is paused; absent = never. */
  pauseAfterMs: ReadonlyMap<string, number>
  /** Between probes of a paused target. */
  probeMs: number
}

interface Tripped {
  pausedAt: number
  probeAt: number
  /** When the probe resumed it; null while paused. */
  probingSince: number | null
}

const STATE = 'breaker'

export function createBreaker(
  store: OutboxStore,
  settings: BreakerSettings,
  wake: (target: string) => void,
  now: () => number,
) {
  /** Targets this replica resumed for a probe whose first answer has not come yet. */
  const probing = new Set<string>()
  return {
    /** An attempt's outcome (the dispatcher's onAttempt): a probe that failed pauses its target again. */
    attempted(target: string, outcome: 'delivered' | 'retry' | 'dead'): void {
      if (!probing.delete(target) || outcome === 'delivered') return
      store.setPaused(target, true, now()).catch(() => {
        // The next check pauses it (the probe round is over and it still fails).
      })
    },

    /** `failingSince`: when this replica first saw each failing target fail, as the evaluator keeps it. */
    async check(at: number, failingSince: ReadonlyMap<string, number>): Promise<void> {
      if (settings.pauseAfterMs.size === 0) return
      const kept = await store.alertState(STATE)
      const state = new Map(
        Object.entries(kept === null ? {} : (JSON.parse(kept) as Record<string, Tripped>)),
      )
      let changed = false
      for (const [target, afterMs] of settings.pauseAfterMs) {
        const tripped = state.get(target)
        const since = failingSince.get(target)
        if (!tripped) {
          if (since === undefined || at - since < afterMs) continue
          await store.setPaused(target, true, at)
          state.set(target, { pausedAt: at, probeAt: at + settings.probeMs, probingSince: null })
          changed = true
          await store.openAlert({
            condition: 'target.breaker',
            subject: target,
            session: null,
            detail:
              `paused after failing for ${Math.round((at - since) / 60_000)} min: its events wait; ` +
              `tried again every ${Math.round(settings.probeMs / 60_000)} min, resumed when it answers`,
            at: at,
          })
        } else if (tripped.probingSince !== null) {
          // The round that resumed it is over: the probe has had its chance.
          if (at <= tripped.probingSince) continue
          probing.delete(target)
          if (since === undefined) {
            state.delete(target)
            await store.resolveAlert('target.breaker', target, at)
          } else {
            await store.setPaused(target, true, at)
            state.set(target, { ...tripped, probeAt: at + settings.probeMs, probingSince: null })
          }
          changed = true
        } else if (at >= tripped.probeAt) {
          await store.setPaused(target, false, at)
          probing.add(target)
          wake(target)
          state.set(target, { ...tripped, probingSince: at })
          changed = true
        }
      }
      if (changed) await store.setAlertState(STATE, JSON.stringify(Object.fromEntries(state)))
    },
  }
}
