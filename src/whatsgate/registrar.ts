// Points WhatsGate at the relay (`set-hook`) for the configured sessions, or for every session
// `sessions-get` lists. Runs in the background so a WhatsGate outage never delays start-up, and
// keeps retrying until each session is done. The callback URL holds the ingest token: it is
// never logged nor shown in status().
import type { Logger } from 'pino'
import { type Clock, systemClock } from '../shared/clock.ts'
import { sleep } from '../shared/sleep.ts'
import type { WhatsGateClient } from './api-client.ts'
import { isUnauthorized, WhatsGateUnavailableError } from './api-errors.ts'

export type SessionOutcome = 'pending' | 'registered' | 'already' | 'failed'

export interface SessionRegistration {
  whatsappId: string
  outcome: SessionOutcome
  /** The last failure, while `outcome` is 'failed'. */
  error?: string
  attempts: number
}

export interface RegistrationStatus {
  /** 'running' until every session is registered or already was; 'stopped' if stopped before. */
  state: 'idle' | 'running' | 'done' | 'stopped'
  /** 'explicit' when the sessions were configured; otherwise the state of `sessions-get`. */
  discovery: 'explicit' | 'pending' | 'done' | 'failed'
  /** Set while WhatsGate rejects the API key. */
  unauthorized: boolean
  error?: string
  sessions: SessionRegistration[]
}

export interface Registrar {
  readonly name: 'registrar'
  start(): void
  stop(): Promise<void>
  status(): RegistrationStatus
}

export interface RegistrarOptions {
  client: Pick<WhatsGateClient, 'setHook' | 'sessionsGet' | 'listAllSessions'>
  callbackUrl: string
  /** Empty: every session `sessions-get` lists. */
  whatsappIds: readonly string[]
  log: Logger
  retryDelay?: (attempt: number) => number
  /** What the waits between rounds run on; real time by default. */
  clock?: Clock
  /** A rejected key will not fix itself within seconds: retry slowly instead of hammering. */
  unauthorizedDelayMs?: number
  /** Told each session (maybe more than once) once it points at the relay: backfill may start. */
  onSessionReady?: (whatsappId: string) => void
}

export const defaultRetryDelay = (attempt: number): number => {
  const base = Math.min(5 * 60_000, 1000 * 2 ** (attempt - 1))
  return Math.round(base * (0.8 + Math.random() * 0.4))
}

export function createRegistrar(options: RegistrarOptions): Registrar {
  const { client, callbackUrl, log, retryDelay = defaultRetryDelay } = options
  const unauthorizedDelayMs = options.unauthorizedDelayMs ?? 15 * 60_000
  const clock = options.clock ?? systemClock
  const explicit = options.whatsappIds.length > 0
  const status: RegistrationStatus = {
    state: 'idle',
    discovery: explicit ? 'explicit' : 'pending',
    unauthorized: false,
    sessions: [...new Set(options.whatsappIds)].map((whatsappId) => ({
      whatsappId,
      outcome: 'pending',
      attempts: 0,
    })),
  }
  // Logged once per change of this key, not once per retry.
  const lastLogged = new Map<string, string>()
  const abort = new AbortController()
  const { signal } = abort
  let loop: Promise<void> | undefined

  function logChange(subject: string, key: string, write: () => void) {
    if (lastLogged.get(subject) === key) return
    lastLogged.set(subject, key)
    write()
  }

  function failureKey(err: unknown): string {
    if (isUnauthorized(err)) return 'unauthorized'
    if (err instanceof WhatsGateUnavailableError) return 'unavailable'
    return err instanceof Error ? `${err.name}:${err.message}` : String(err)
  }

  function reportFailure(subject: string, err: unknown, fields: Record<string, unknown>) {
    const error = err instanceof Error ? err.message : String(err)
    logChange(subject, failureKey(err), () => {
      if (isUnauthorized(err)) {
        log.error(
          { ...fields, error, retryInMs: unauthorizedDelayMs },
          'WhatsGate rejected the API key (Unauthorized): check WHATSGATE_API_KEY; retrying slowly',
        )
      } else {
        log.warn({ ...fields, error }, 'WhatsGate webhook registration failed; retrying with backoff')
      }
    })
    return error
  }

  type Result = 'ok' | 'failed' | 'unavailable' | 'unauthorized'

  function failed(err: unknown): Result {
    status.unauthorized = isUnauthorized(err)
    if (status.unauthorized) return 'unauthorized'
    return err instanceof WhatsGateUnavailableError ? 'unavailable' : 'failed'
  }

  async function discover(): Promise<Result> {
    try {
      const sessions = await client.listAllSessions({}, { signal })
      status.discovery = 'done'
      status.unauthorized = false
      delete status.error
      status.sessions = sessions.map((s) => ({
        whatsappId: s.unique_id,
        // sessions-get already told us the current callback: no need to ask again per session.
        outcome: s.callback === callbackUrl ? 'already' : 'pending',
        attempts: 0,
      }))
      logChange('discovery', 'done', () =>
        log.info({ sessions: status.sessions.length }, 'discovered WhatsGate sessions'),
      )
      if (status.sessions.length === 0) log.warn('sessions-get lists no session: nothing to register')
      for (const session of status.sessions) {
        if (session.outcome === 'already') options.onSessionReady?.(session.whatsappId)
      }
      return 'ok'
    } catch (err) {
      if (signal.aborted) throw err
      status.discovery = 'failed'
      status.error = reportFailure('discovery', err, { command: 'sessions-get' })
      return failed(err)
    }
  }

  async function ensure(session: SessionRegistration): Promise<Result> {
    const { whatsappId } = session
    session.attempts++
    try {
      if (explicit) {
        const answer = await client.sessionsGet({ WhatsappID: whatsappId }, { signal })
        const current = answer.data.find((s) => s.unique_id === whatsappId)
        if (current?.callback === callbackUrl) {
          session.outcome = 'already'
          delete session.error
          logChange(whatsappId, 'already', () =>
            log.info({ whatsappId }, 'WhatsGate webhook already points here'),
          )
          status.unauthorized = false
          options.onSessionReady?.(whatsappId)
          return 'ok'
        }
      }
      await client.setHook(whatsappId, callbackUrl, { signal })
      session.outcome = 'registered'
      delete session.error
      logChange(whatsappId, 'registered', () =>
        log.info({ whatsappId, attempts: session.attempts }, 'WhatsGate webhook registered'),
      )
      status.unauthorized = false
      options.onSessionReady?.(whatsappId)
      return 'ok'
    } catch (err) {
      if (signal.aborted) throw err
      session.outcome = 'failed'
      session.error = reportFailure(whatsappId, err, { whatsappId })
      return failed(err)
    }
  }

  async function run() {
    for (let round = 1; ; round++) {
      let result: Result = explicit || status.discovery === 'done' ? 'ok' : await discover()
      if (result === 'ok') {
        for (const session of status.sessions) {
          if (session.outcome === 'registered' || session.outcome === 'already') continue
          const outcome = await ensure(session)
          if (outcome !== 'ok') result = outcome
          // One rejected key rejects them all, and an outage fails them all (each after the
          // client's own retries): do not spend calls per session to learn it again.
          if (outcome === 'unauthorized' || outcome === 'unavailable') break
        }
      }
      if (result === 'ok') {
        status.state = 'done'
        const count = (outcome: SessionOutcome) => status.sessions.filter((s) => s.outcome === outcome).length
        log.info(
          { registered: count('registered'), already: count('already') },
          'WhatsGate registration complete',
        )
        return
      }
      await sleep(result === 'unauthorized' ? unauthorizedDelayMs : retryDelay(round), signal, clock)
    }
  }

  return {
    name: 'registrar',
    start() {
      if (loop) return
      status.state = 'running'
      loop = run().catch((err) => {
        if (!signal.aborted) log.error({ err }, 'WhatsGate registrar crashed')
      })
    },
    async stop() {
      abort.abort()
      await loop
      if (status.state !== 'done') status.state = 'stopped'
    },
    status() {
      return structuredClone(status)
    },
  }
}
