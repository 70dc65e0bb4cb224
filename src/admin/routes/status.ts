// The overview: is the relay well, what waits where, and is WhatsGate pointed here.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { VERSION } from '../../version.ts'
import type { AdminOptions } from '../admin-plugin.ts'
import { commonAnswers, statusAnswer } from '../schemas.ts'
import { stateOf, stateText } from './target-state.ts'
import { ageSeconds } from './targets.ts'

export const statusRoutes: FastifyPluginAsyncZod<AdminOptions> = async (app, opts) => {
  app.get(
    '/admin/status',
    { schema: { summary: 'The relay at a glance', response: { 200: statusAnswer, ...commonAnswers } } },
    async () => {
      const now = opts.now()
      const [healthy, paused, backlog, dead, lastMinute, lastHour] = await Promise.all([
        opts.pingStore().then(
          () => true,
          () => false,
        ),
        opts.store.pausedTargets(),
        opts.store.backlog(),
        opts.store.deadLetters(),
        opts.store.countReceivedSince(now - 60_000),
        opts.store.countReceivedSince(now - 3_600_000),
      ])
      const failing = opts.failingTargets()
      const consumers = opts.streamConsumers?.() ?? new Map<string, number>()
      return {
        version: VERSION,
        uptimeSeconds: Math.round(process.uptime()),
        store: { kind: opts.storeKind, healthy },
        targets: opts.targets.map(({ name, type }) => {
          const waiting = backlog.get(name)
          const facts = {
            type,
            pending: waiting?.pending ?? 0,
            dead: dead.get(name) ?? 0,
            consumers: type === 'stream' ? (consumers.get(name) ?? 0) : undefined,
          }
          const state = stateOf(name, paused, failing, facts)
          return {
            name,
            type,
            state,
            stateText: stateText(state, facts),
            pending: facts.pending,
            dead: facts.dead,
            oldestPendingAgeSeconds: waiting ? ageSeconds(now, waiting.oldestReceivedAt) : null,
          }
        }),
        registration: opts.registration(),
        eventsReceived: { lastMinute, lastHour },
      }
    },
  )

  app.get(
    '/metrics',
    {
      schema: {
        summary: 'Prometheus metrics (text exposition format)',
        produces: ['text/plain'],
      },
    },
    async (_request, reply) => {
      reply.type(opts.metrics.contentType)
      return opts.metrics.metrics()
    },
  )
}
