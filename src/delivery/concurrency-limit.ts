// How many requests a target gets at once. The limit grows while the target's latency holds and
// shrinks when it slows, fails or answers 429: additive increase, multiplicative decrease on a
// latency baseline, as TCP congestion control and Netflix's concurrency-limits do. So a fast target
// is not held to a handful of requests, and a struggling one is not buried under them.

export interface AnswerSample {
  /** When the request was sent (the relay's clock, ms): answers to requests sent before the
   * last decrease say nothing about the new limit. */
  startedAt: number
  durationMs: number
  /** 429, 5xx, a timeout or no answer: the target asks for less. */
  overloaded: boolean
  /** Requests to the target in flight when it was sent, this one included. */
  inFlight: number
}

export interface ConcurrencyLimit {
  /** Requests that may be in flight now: an integer between 1 and the cap. */
  readonly current: number
  /** Feeds one answer of the target; `now` is when it came. */
  onAnswer(sample: AnswerSample, now: number): void
}

export interface ConcurrencyLimitOptions {
  /** The target's `concurrency`: never more. */
  max: number
  /** Where it starts: 8 (what every target had before it adapted), or the cap if lower. */
  initial?: number
}

/** Latency up to this multiple of the baseline (plus a little slack) counts as holding. */
const TOLERANCE = 2
/** Absolute slack: a target answering in 1 ms that now takes 20 is still quick, not slowing. */
const SLACK_MS = 50
/** How fast the baseline follows a target that became slower for good (per answer). */
const BASELINE_DRIFT = 0.01
/** The weight of each answer in the recent latency: one slow answer (a pause, a busy host) is not a trend. */
const SMOOTHING = 0.2
const BACKOFF_ON_OVERLOAD = 0.5
const BACKOFF_ON_LATENCY = 0.9

export function createConcurrencyLimit({
  max,
  initial = Math.min(max, 8),
}: ConcurrencyLimitOptions): ConcurrencyLimit {
  let limit = Math.max(1, Math.min(max, initial))
  // Below it the limit doubles every round trip (slow start); above it, one more per round trip.
  let threshold = max
  let baseline = Number.POSITIVE_INFINITY
  let recent = Number.NaN
  let decreasedAt = Number.NEGATIVE_INFINITY

  function decrease(factor: number, now: number): void {
    limit = Math.max(1, limit * factor)
    threshold = limit
    decreasedAt = now
  }

  return {
    get current() {
      return Math.floor(limit)
    },
    onAnswer(sample, now) {
      const stale = sample.startedAt < decreasedAt
      if (sample.overloaded) {
        if (!stale) decrease(BACKOFF_ON_OVERLOAD, now)
        return
      }
      baseline =
        sample.durationMs < baseline
          ? sample.durationMs
          : baseline + (sample.durationMs - baseline) * BASELINE_DRIFT
      recent = Number.isNaN(recent) ? sample.durationMs : recent + (sample.durationMs - recent) * SMOOTHING
      if (recent > baseline * TOLERANCE + SLACK_MS) {
        if (!stale) decrease(BACKOFF_ON_LATENCY, now)
        return
      }
      // Only a limit that was reached has been tested: an idle target's limit stays where it is.
      if (sample.inFlight < Math.floor(limit)) return
      limit = Math.min(max, limit < threshold ? limit + 1 : limit + 1 / limit)
    },
  }
}
