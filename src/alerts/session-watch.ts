// Conditions read from a session's own events (evaluator.ts feeds them in seq order):
//   session.error: at least `sessionErrors` `error` events within ten minutes; resolved once ten
//     minutes pass without one;
//   session.silent: a session that was active (ten events or more) has sent nothing for longer
//     than its usual quiet: twice the longest gap between its events over the last seven days,
//     kept between a floor and a ceiling; resolved by its next event. Not while it is disconnected
//     (that is told already). What was learned is kept in the store, so a restart keeps it.
import type { AlertRow, EventRow, OutboxStore } from '../store/types.ts'

export interface SessionWatchSettings {
  /** `error` events within ten minutes that open session.error; 0 = off. */
  sessionErrors: number
  /** session.silent never opens sooner than this, and always by this at the latest; 0 floor = off. */
  silentFloorMs: number
  silentCeilingMs: number
}

const ERROR_WINDOW_MS = 10 * 60_000
const LEARNED_DAYS_MS = 7 * 24 * 3_600_000
/** Events a session must have sent before its silence is alerted on. */
const ACTIVE_AFTER = 10
const STATE = 'sessions.activity'
const MAX_DETAIL = 200

interface Activity {
  /** Its newest event's received time. */
  lastAt: number
  /** Events seen, up to ACTIVE_AFTER. */
  events: number
  /** [when, gap] of its long gaps (over half the floor) in the last seven days. */
  gaps: [number, number][]
}

export function createSessionWatch(store: OutboxStore, settings: SessionWatchSettings) {
  let activity: Map<string, Activity> | null = null
  let changed = false
  const errors = new Map<string, { at: number[]; last: string }>()
  /** session.silent conditions open, as of this round's start. */
  let silentOpen = new Set<string>()
  let disconnected = new Set<string>()

  async function load(): Promise<Map<string, Activity>> {
    if (!activity) {
      const kept = await store.alertState(STATE)
      activity = new Map(Object.entries(kept === null ? {} : (JSON.parse(kept) as Record<string, Activity>)))
    }
    return activity
  }

  return {
    /** At the start of a round: what is open, and what was learned. */
    async begin(open: AlertRow[]): Promise<void> {
      await load()
      silentOpen = new Set(open.filter((row) => row.condition === 'session.silent').map((row) => row.subject))
      disconnected = new Set(
        open.filter((row) => row.condition === 'session.disconnected').map((row) => row.subject),
      )
    },

    /** One event, in seq order; `errorText` is read for `error` events only. */
    async seen(row: EventRow, errorText: () => Promise<string>): Promise<void> {
      const sessions = activity as Map<string, Activity>
      const session = row.whatsappId
      const known = sessions.get(session)
      if (known) {
        const gap = row.receivedAt - known.lastAt
        if (gap > settings.silentFloorMs / 2) known.gaps.push([row.receivedAt, gap])
        known.lastAt = Math.max(known.lastAt, row.receivedAt)
        known.events = Math.min(ACTIVE_AFTER, known.events + 1)
      } else {
        sessions.set(session, { lastAt: row.receivedAt, events: 1, gaps: [] })
      }
      changed = true
      if (silentOpen.delete(session)) await store.resolveAlert('session.silent', session, row.receivedAt)
      if (row.action === 'error' && settings.sessionErrors > 0) {
        const seen = errors.get(session) ?? { at: [], last: '' }
        seen.at.push(row.receivedAt)
        seen.last = await errorText()
        errors.set(session, seen)
      }
    },

    /** At the end of a round: opens and resolves, then keeps what was learned. */
    async end(now: number): Promise<void> {
      for (const [session, seen] of errors) {
        seen.at = seen.at.filter((at) => at > now - ERROR_WINDOW_MS)
        if (seen.at.length >= settings.sessionErrors) {
          const last = seen.last.length > MAX_DETAIL ? `${seen.last.slice(0, MAX_DETAIL)}…` : seen.last
          await store.openAlert({
            condition: 'session.error',
            subject: session,
            session,
            detail: `${seen.at.length} errors in 10 minutes${last ? `, the last "${last}"` : ''}`,
            at: now,
          })
        } else if (seen.at.length === 0) {
          errors.delete(session)
          await store.resolveAlert('session.error', session, now)
        }
      }
      const sessions = activity as Map<string, Activity>
      for (const [session, known] of sessions) {
        const before = known.gaps.length
        known.gaps = known.gaps.filter(([at]) => at > now - LEARNED_DAYS_MS)
        if (known.gaps.length !== before) changed = true
        if (settings.silentFloorMs <= 0 || known.events < ACTIVE_AFTER) continue
        if (silentOpen.has(session) || disconnected.has(session)) continue
        const longest = Math.max(0, ...known.gaps.map(([, gap]) => gap))
        const quietMs = Math.min(settings.silentCeilingMs, Math.max(settings.silentFloorMs, 2 * longest))
        if (now - known.lastAt > quietMs) {
          await store.openAlert({
            condition: 'session.silent',
            subject: session,
            session,
            detail: `no event for ${minutes(now - known.lastAt)} (its usual quiet is up to ${minutes(quietMs)})`,
            at: now,
          })
        }
      }
      if (changed) {
        await store.setAlertState(STATE, JSON.stringify(Object.fromEntries(sessions)))
        changed = false
      }
    },
  }
}

function minutes(ms: number): string {
  const total = Math.round(ms / 60_000)
  return total < 120 ? `${total} min` : `${Math.round(total / 60)} h`
}
