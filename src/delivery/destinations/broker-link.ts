// What the broker kinds share: the state of one connection as its client reports it, and one
// publish turned into a SendOutcome within the target's deadline. A broker's confirmation (publisher
// confirm, JetStream ack, XADD reply, PUBACK) is the only success; everything else is a failure
// with a clear error, `connection` or `timeout` in the attempt history, retried by the dispatcher.
import { performance } from 'node:perf_hooks'
import type { SendOutcome } from '../sender.ts'

const MAX_ERROR_LENGTH = 300

/** A failure the sender found itself (a refusal, a missing stream), worded for the operator. */
export class BrokerError extends Error {
  override name = 'BrokerError'
}

/**
 * One connection's state, fed by its client's events. A send waits for the first connection (up
 * to its deadline); once the client has reported a failure it does not wait for the reconnect the
 * client keeps trying on its own, but fails at once with what the client said: a broker that is
 * down costs an attempt its retry schedule, not a slot held for the whole timeout.
 */
export function createLink() {
  let connected = false
  let lastError: string | null = null
  const waiters = new Set<() => void>()
  const wake = () => {
    for (const waiter of waiters) waiter()
    waiters.clear()
  }
  return {
    get connected() {
      return connected
    },
    up() {
      connected = true
      lastError = null
      wake()
    },
    down(error: unknown) {
      connected = false
      lastError = withoutCredentials(error instanceof BrokerError ? error.message : messageOf(error))
      wake()
    },
    /** Resolves once connected; rejects with the last failure, or when `signal` aborts. */
    async ready(signal: AbortSignal): Promise<void> {
      while (!connected) {
        if (lastError !== null) throw new BrokerError(`not connected: ${lastError}`)
        signal.throwIfAborted()
        await new Promise<void>((resolve) => {
          const done = () => {
            signal.removeEventListener('abort', done)
            waiters.delete(done)
            resolve()
          }
          waiters.add(done)
          signal.addEventListener('abort', done, { once: true })
        })
      }
    },
  }
}

export type Link = ReturnType<typeof createLink>

/**
 * Runs one publish against the target's deadline. `publish` resolves once the broker confirmed,
 * with a short note for the attempt history (where the message went), and rejects otherwise.
 */
export async function confirmWithin(
  kind: string,
  timeoutMs: number,
  publish: (signal: AbortSignal) => Promise<string | null>,
): Promise<SendOutcome> {
  const started = performance.now()
  const elapsed = () => Math.round(performance.now() - started)
  const deadline = AbortSignal.timeout(timeoutMs)
  let cancel = () => {}
  const expired = new Promise<never>((_resolve, reject) => {
    const onAbort = () => reject(deadline.reason)
    deadline.addEventListener('abort', onAbort, { once: true })
    cancel = () => deadline.removeEventListener('abort', onAbort)
  })
  expired.catch(() => {})
  try {
    const note = await Promise.race([publish(deadline), expired])
    return {
      ok: true,
      status: null,
      retryAfter: undefined,
      error: null,
      timedOut: false,
      durationMs: elapsed(),
      responseExcerpt: note,
    }
  } catch (error) {
    const timedOut = deadline.aborted && !(error instanceof BrokerError)
    return {
      ok: false,
      status: null,
      retryAfter: undefined,
      error: timedOut
        ? `timeout after ${timeoutMs} ms waiting for ${kind} to confirm`
        : describeBrokerError(kind, error),
      timedOut,
      durationMs: elapsed(),
      responseExcerpt: null,
    }
  } finally {
    cancel()
  }
}

/** `amqp: …`: short, without credentials, the OS code where there is one (ECONNREFUSED …). */
export function describeBrokerError(kind: string, error: unknown): string {
  const text = error instanceof BrokerError ? error.message : messageOf(error)
  const prefixed = text.startsWith(`${kind}: `) ? text : `${kind}: ${text}`
  return withoutCredentials(prefixed).slice(0, MAX_ERROR_LENGTH)
}

function messageOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error)
  // Dual-stack connects fail with an AggregateError whose message is empty; its parts say why.
  if (error instanceof AggregateError && error.errors[0] instanceof Error && !error.message) {
    return messageOf(error.errors[0])
  }
  const code = (error as { code?: unknown }).code
  if (error.message) return error.message
  if (typeof code === 'string') return code
  if (error.cause instanceof Error) return messageOf(error.cause)
  return error.name
}

/** `scheme://user:password@host` with the userinfo left out: a client may quote its URL. */
export function withoutCredentials(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/\s@]*@/gi, '$1')
}

/** The URL without its userinfo, for logs. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url)
    return `${parsed.protocol}//${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname}`
  } catch {
    return '(invalid URL)'
  }
}
