// The overview's charts: events received, deliveries delivered, failed attempts and deaths per
// minute over the last hour, or per hour over the last day, from the store's traffic counts
// (store/sqlite-stats.ts), so every replica and every restart shows the same; with the backlog,
// the dead letters and each session's last event.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { MINUTE_MS, minuteOf } from '../../store/sqlite-stats.ts'
import type { TrafficBucket } from '../../store/types.ts'
import type { AdminOptions } from '../admin-plugin.ts'
import { commonAnswers, statsAnswer, statsQuery } from '../schemas.ts'
import { HOUR_MS, hourOf } from './targets.ts'

const RANGES = {
  hour: { bucketMs: MINUTE_MS, buckets: 60, start: minuteOf },
  day: { bucketMs: HOUR_MS, buckets: 24, start: hourOf },
} as const

export const statsRoutes: FastifyPluginAsyncZod<AdminOptions> = async (app, opts) => {
  app.get(
    '/admin/stats',
    {
      schema: {
        summary: 'Traffic per minute (last hour) or per hour (last day), backlog, dead letters, last events',
        querystring: statsQuery,
        response: { 200: statsAnswer, ...commonAnswers },
      },
    },
    async (request) => {
      const { range } = request.query
      const { bucketMs, buckets: count, start } = RANGES[range]
      // The current bucket last: it fills as the minute (hour) goes on.
      const from = start(opts.now()) - (count - 1) * bucketMs
      const [traffic, backlog, dead, sessions] = await Promise.all([
        opts.store.traffic(from, bucketMs),
        opts.store.backlog(),
        opts.store.deadLetters(),
        opts.store.lastEvents(),
      ])
      const byStart = new Map(traffic.map((bucket) => [bucket.at, bucket]))
      const buckets: TrafficBucket[] = Array.from({ length: count }, (_, i) => {
        const at = from + i * bucketMs
        return byStart.get(at) ?? { at, received: 0, delivered: 0, failed: 0, dead: 0 }
      })
      const sum = (key: 'received' | 'delivered' | 'failed' | 'dead') =>
        buckets.reduce((total, bucket) => total + bucket[key], 0)
      return {
        range,
        bucketSeconds: bucketMs / 1000,
        buckets,
        totals: {
          received: sum('received'),
          delivered: sum('delivered'),
          failed: sum('failed'),
          dead: sum('dead'),
        },
        backlog: [...backlog.values()].reduce((total, { pending }) => total + pending, 0),
        deadLetters: [...dead.values()].reduce((total, n) => total + n, 0),
        lastEventAt: sessions.reduce<number | null>((last, s) => Math.max(last ?? 0, s.receivedAt), null),
        sessions: sessions.map((s) => ({ whatsappId: s.whatsappId, lastEventAt: s.receivedAt })),
      }
    },
  )
}
