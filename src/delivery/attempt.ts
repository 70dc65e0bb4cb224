// One attempt of one delivery: its body and metadata, sent through the target's kind (sender.ts),
// what the answer means (retry-policy.ts), recorded in the store. The dispatcher decides when;
// this decides how, the same for every kind.

import { performance } from 'node:perf_hooks'
import type { Logger } from 'pino'
import type { AttemptErrorClass, AttemptOutcome, ClaimedDelivery, DeliveryStore } from '../store/types.ts'
import { headerValue } from './header-value.ts'
import { MediaFetchError, type PrepareBody } from './prepare-body.ts'
import { type Decision, decide, parseRetryAfter } from './retry-policy.ts'
import type { Sender, SendOutcome } from './sender.ts'
import type { Target } from './targets.ts'

export interface AttemptDeps {
  store: DeliveryStore
  /** The dispatcher's lease owner id: outcomes are recorded under it. */
  owner: string
  /** Sends to a target of any kind (sender.ts). */
  sender: Sender
  log: Logger
  now: () => number
  random: () => number
  /**
   * Rewrites the body for a target with `media: "inline"`; without it, or for other targets, the
   * stored bytes go out. `signal` aborts at the attempt's deadline, the target's timeoutMs; the
   * attempt stops waiting then in any case. Throws MediaFetchError when WhatsGate failed: that
   * spends an attempt. Anything else it throws is our failure and spends none.
   */
  prepareBody?: PrepareBody
  /** Told the outcome of every attempt (metrics). */
  onAttempt?: (target: string, outcome: Decision['kind'], durationMs: number) => void
}

export interface AttemptHooks {
  /** True when shutdown gave the delivery back while it was being sent: nothing is recorded. */
  abandoned: () => boolean
  /** Called once the target has answered and the outcome is queued for the store. */
  answered: (outcome: Decision['kind'], answer: { durationMs: number; overloaded: boolean }) => void
}

export function createAttempt(deps: AttemptDeps) {
  const { store, sender, log, now, random, prepareBody } = deps

  /**
   * The body for this target, within the target's timeoutMs: the lease is sized for the send's
   * own timeout, so a media fetch that ran on (WhatsGate hanging, the client's own retries) would
   * let another worker claim the delivery while this one still meant to send it.
   */
  async function prepareWithin(target: Target, delivery: ClaimedDelivery): Promise<Buffer> {
    if (!prepareBody || target.media !== 'inline') return delivery.body
    const deadline = AbortSignal.timeout(target.timeoutMs)
    try {
      return await prepareBody(target, delivery, deadline)
    } catch (error) {
      if (!deadline.aborted) throw error
      throw new MediaFetchError(`timed out after ${target.timeoutMs} ms`, { cause: error })
    }
  }

  function send(target: Target, delivery: ClaimedDelivery, body: Buffer): Promise<SendOutcome> {
    const timestamp = Math.floor(now() / 1000)
    const metadata = {
      'x-whatsgate-event': headerValue(delivery.action),
      'x-whatsgate-session': headerValue(delivery.whatsappId),
      'webhook-id': headerValue(delivery.eventKey),
      'webhook-timestamp': String(timestamp),
    }
    return sender.send(target, { delivery, body, timestamp, metadata })
  }

  return async function attempt(
    target: Target,
    delivery: ClaimedDelivery,
    hooks: AttemptHooks,
  ): Promise<void> {
    const attempts = delivery.attempts + 1
    const context = {
      target: target.name,
      event: delivery.eventKey,
      delivery: delivery.id,
      attempt: attempts,
    }
    try {
      const started = performance.now()
      // The attempt's start: the send's, or the media fetch's when that is what failed.
      let startedAt = now()
      let result: SendOutcome
      let mediaFailed = false
      try {
        const body = await prepareWithin(target, delivery)
        startedAt = now()
        result = await send(target, delivery, body)
      } catch (error) {
        if (!(error instanceof MediaFetchError)) throw error
        // WhatsGate's failure, not the target's: the target was never called.
        mediaFailed = true
        result = {
          ok: false,
          status: null,
          retryAfter: undefined,
          error: error.message,
          // Even when the fetch ran out of time: the target did not, so it is not held back.
          timedOut: false,
          durationMs: Math.round(performance.now() - started),
          responseExcerpt: null,
        }
      }
      // Given back at shutdown: the aborted send is ours, not the target's, and spends nothing.
      if (hooks.abandoned()) return
      const at = now()
      const outcome: AttemptOutcome = {
        owner: deps.owner,
        now: at,
        httpStatus: result.status,
        error: result.error,
        startedAt,
        durationMs: result.durationMs,
        errorClass: mediaFailed ? 'media' : errorClassOf(result),
        responseExcerpt: result.responseExcerpt,
      }
      const decision = decide(
        {
          ok: result.ok,
          status: result.status,
          error: result.error,
          timedOut: result.timedOut,
          retryAfterMs: parseRetryAfter(result.retryAfter, at),
        },
        { attempts, firstReceivedAt: delivery.receivedAt, now: at },
        target.retry,
        random,
      )
      deps.onAttempt?.(target.name, decision.kind, result.durationMs)
      // Queue the record first, then free the slot: the next claim joins the same transaction
      // and sees this outcome (an ordered chat's next message becomes claimable at once).
      const recording = store.record(
        delivery.id,
        decision,
        decision.kind === 'dead' ? { ...outcome, error: decision.reason } : outcome,
      )
      if (decision.kind === 'delivered') {
        log.debug({ ...context, status: result.status, ms: result.durationMs }, 'delivered')
      } else if (decision.kind === 'retry') {
        log.info(
          { ...context, status: result.status, error: result.error, retryAt: decision.at },
          'delivery failed; will retry',
        )
      } else {
        log.warn({ ...context, reason: decision.reason }, 'delivery dead')
      }
      // A media failure says nothing about the target, so it does not count towards the target's
      // failing streak (one request at a time); its slot frees once the outcome is recorded.
      if (!mediaFailed) {
        hooks.answered(decision.kind, { durationMs: result.durationMs, overloaded: asksForLess(result) })
      }
      await recording
    } catch (error) {
      // Our side failed (store, a bug preparing the body): spend no attempt. The lease runs out
      // and the delivery is due again, so at worst the target sees a repeat with the same webhook-id.
      log.error(
        { ...context, err: error },
        'could not complete the delivery; it will be retried after its lease',
      )
    }
  }
}

/**
 * An answer that says the target has too much to do: 429, 5xx, a timeout or none at all (a broker
 * that did not confirm).
 */
function asksForLess(result: SendOutcome): boolean {
  return (
    result.timedOut ||
    (!result.ok && result.status === null) ||
    result.status === 429 ||
    (result.status !== null && result.status >= 500)
  )
}

/** What kind of failure a send was, from what the sender reports; null when confirmed in time. */
function errorClassOf(result: SendOutcome): AttemptErrorClass | null {
  if (result.timedOut) return 'timeout'
  if (result.ok) return null
  if (result.status === null) return 'connection'
  return 'http'
}
