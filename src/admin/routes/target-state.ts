// A target's state as the operator sees it, decided here for the status, the targets page, the
// CLI and the dashboard alike, from what is true now: paused (in the store, for every replica);
// for a stream, whether a consumer is connected to read what waits; failing (this replica's
// dispatcher sees its attempts fail) only while something is left to fail; dead letters when
// deliveries died and nothing of it is being retried; else ok.
export type TargetState = 'ok' | 'failing' | 'paused' | 'dead_letters' | 'no_consumer'

export interface TargetFacts {
  type?: string
  /** Deliveries not yet finished. */
  pending?: number
  /** Deliveries that died and wait for a replay. */
  dead?: number
  /** A stream's consumers connected to this replica; undefined when not known. */
  consumers?: number | undefined
}

export function stateOf(
  name: string,
  paused: ReadonlyMap<string, number>,
  failing: Iterable<string>,
  { type, pending = 0, dead = 0, consumers }: TargetFacts = {},
): TargetState {
  if (paused.has(name)) return 'paused'
  if (type === 'stream') return consumers === 0 ? 'no_consumer' : 'ok'
  if (pending > 0 && new Set(failing).has(name)) return 'failing'
  return dead > 0 ? 'dead_letters' : 'ok'
}

/**
 * The state in words: `dead letters: 160` carries its count, as no other column does; what waits
 * is shown beside it (pending), so the others are the state alone.
 */
export function stateText(state: TargetState, { dead = 0 }: TargetFacts = {}): string {
  if (state === 'dead_letters') return `dead letters: ${dead}`
  return state === 'no_consumer' ? 'no consumer' : state
}

/** What the store and this replica know now, read once for every target. */
export interface Readings {
  paused: ReadonlyMap<string, number>
  failing: Iterable<string>
  backlog: ReadonlyMap<string, { pending: number; oldestReceivedAt: number }>
  dead: ReadonlyMap<string, number>
  consumers: ReadonlyMap<string, number>
}

/** One target's state, its words and the facts they rest on: what the status and the targets show. */
export function truthOf({ name, type }: { name: string; type: string }, readings: Readings) {
  const waiting = readings.backlog.get(name)
  const facts = {
    type,
    pending: waiting?.pending ?? 0,
    dead: readings.dead.get(name) ?? 0,
    consumers: type === 'stream' ? (readings.consumers.get(name) ?? 0) : undefined,
  }
  const state = stateOf(name, readings.paused, readings.failing, facts)
  return { state, stateText: stateText(state, facts), ...facts, oldestReceivedAt: waiting?.oldestReceivedAt }
}

// Query parameters whose values are credentials, whatever the service calls them.
const SECRET_PARAM = /token|key|secret|pass|auth|sig|credential|code/i

/**
 * A target's URL as the operator may see it: no user, password or fragment, and secret-looking
 * query values replaced. A URL that does not parse is shown as its scheme only.
 */
export function shownUrl(url: string): string {
  // A stream's: the relay's own path its consumers read.
  if (url.startsWith('/')) return url.split(/[?#]/)[0] as string
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return /^[a-z][a-z0-9+.-]*:/i.exec(url)?.[0] ?? '(not a URL)'
  }
  parsed.username = ''
  parsed.password = ''
  parsed.hash = ''
  for (const name of [...parsed.searchParams.keys()]) {
    if (SECRET_PARAM.test(name)) parsed.searchParams.set(name, '***')
  }
  // URLSearchParams writes `***` as `%2A%2A%2A`: shown as typed.
  return parsed.toString().replaceAll('%2A%2A%2A', '***')
}
