// Limits on failed admin authentications (a wrong sign-in token, bearer token or session cookie),
// so the admin token cannot be guessed at thousands of tries a second. Only failures count: a
// person or script that presents the right credentials is never slowed down by its own traffic.
//
// Per client address: `perAddress` failures within a minute lock the address out for a minute;
// each further lockout within a day doubles the time, up to an hour. Overall: `overall` failures
// within a minute, from any addresses, lock every token check out for a minute (a guesser with
// many addresses); signed-in sessions keep working, as their cookies cannot be guessed.
// Counters live in this process's memory: each replica limits on its own.
//
// rate-limiter-flexible rather than @fastify/rate-limit: the latter counts every request in its
// own hook, while only failures may count here, and a lockout must be read without counting.
import { isIPv6 } from 'node:net'
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible'

export interface AuthLimitsOptions {
  /** Failures per address and minute before the address is locked out; 0 = no limit. */
  perAddress: number
  /** Failures per minute from all addresses before every token check is locked out; 0 = no limit. */
  overall: number
}

export interface AuthLimits {
  /** Seconds until `address` may present a token again; null when it may now. */
  lockedFor(address: string): Promise<number | null>
  /** Counts a failure of `address`; returns the lockout it started, in seconds, or null. */
  failed(address: string): Promise<number | null>
}

const MINUTE_S = 60
const LONGEST_LOCKOUT_S = 3600
const OVERALL = '*'

export function createAuthLimits({ perAddress, overall }: AuthLimitsOptions): AuthLimits {
  const byAddress = perAddress > 0 ? new RateLimiterMemory({ points: perAddress, duration: MINUTE_S }) : null
  const all = overall > 0 ? new RateLimiterMemory({ points: overall, duration: MINUTE_S }) : null
  const lockouts = new RateLimiterMemory({ points: Number.MAX_SAFE_INTEGER, duration: 24 * 3600 })

  /** Counts one failure; when it uses up the last point, blocks the key and returns for how long. */
  async function spend(limiter: RateLimiterMemory, key: string, lockout: () => Promise<number>) {
    const spent = await limiter.consume(key).catch((res: unknown) => {
      if (res instanceof RateLimiterRes) return res
      throw res
    })
    if (spent.remainingPoints > 0) return null
    const seconds = await lockout()
    await limiter.block(key, seconds)
    return seconds
  }

  return {
    async lockedFor(address) {
      const key = clientKey(address)
      const [mine, everyone] = await Promise.all([byAddress?.get(key) ?? null, all?.get(OVERALL) ?? null])
      const waits = [
        mine && byAddress && mine.consumedPoints >= byAddress.points ? mine.msBeforeNext : 0,
        everyone && all && everyone.consumedPoints >= all.points ? everyone.msBeforeNext : 0,
      ]
      const wait = Math.max(...waits)
      return wait > 0 ? Math.ceil(wait / 1000) : null
    },

    async failed(address) {
      const key = clientKey(address)
      const mine = byAddress
        ? await spend(byAddress, key, async () => {
            const { consumedPoints } = await lockouts.penalty(key)
            return Math.min(MINUTE_S * 2 ** (consumedPoints - 1), LONGEST_LOCKOUT_S)
          })
        : null
      const everyone = all ? await spend(all, OVERALL, async () => MINUTE_S) : null
      return mine ?? everyone
    },
  }
}

/**
 * The address a limit counts under: an IPv6 client by its /64, the block one host is usually
 * given, so that walking through its own addresses does not reset the count.
 */
export function clientKey(address: string): string {
  if (!isIPv6(address) || address.startsWith('::ffff:')) return address
  const [head = '', tail = ''] = address.split('::')
  const groups = head === '' ? [] : head.split(':')
  const rest = tail === '' ? [] : tail.split(':')
  const full = [...groups, ...Array(8 - groups.length - rest.length).fill('0'), ...rest]
  return `${full
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`
}
