// Targets: their configuration (without credentials), their traffic, their state as it truly is
// (target-state.ts), paused and resumed (kept in the store, so a pause holds across restarts and
// for every replica).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { filterSourceOf } from '../../delivery/content-filter.ts'
import { MINUTE_MS, minuteOf } from '../../store/sqlite-stats.ts'
import type { TrafficCounts } from '../../store/types.ts'
import type { AdminOptions } from '../admin-plugin.ts'
import { commonAnswers, errorAnswer, pauseAnswer, targetParams, targetsAnswer } from '../schemas.ts'
import { recordAudit } from './audit.ts'
import { shownUrl, stateOf, truthOf } from './target-state.ts'

export const targetRoutes: FastifyPluginAsyncZod<AdminOptions> = async (app, opts) => {
  app.get(
    '/admin/targets',
    {
      schema: {
        summary: 'Each configured target: its configuration (no credentials), traffic and true state',
        response: { 200: targetsAnswer, ...commonAnswers },
      },
    },
    async () => {
      const now = opts.now()
      const [paused, backlog, dead, lastHour, lastDay] = await Promise.all([
        opts.store.pausedTargets(),
        opts.store.backlog(),
        opts.store.deadLetters(),
        opts.store.targetTraffic(minuteOf(now) - 59 * MINUTE_MS),
        opts.store.targetTraffic(hourOf(now) - 23 * HOUR_MS),
      ])
      const failing = new Set(opts.failingTargets())
      const readings = {
        paused,
        failing,
        backlog,
        dead,
        consumers: opts.streamConsumers?.() ?? new Map<string, number>(),
      }
      const concurrency = opts.concurrency?.() ?? new Map<string, number>()
      return {
        targets: opts.targets.map((target) => {
          const { name, type } = target
          const truth = truthOf(target, readings)
          const pushed = type !== 'stream'
          return {
            name,
            type,
            state: truth.state,
            stateText: truth.stateText,
            failing: failing.has(name),
            pausedAt: paused.get(name) ?? null,
            pending: truth.pending,
            dead: truth.dead,
            oldestPendingAgeSeconds:
              truth.oldestReceivedAt === undefined ? null : ageSeconds(now, truth.oldestReceivedAt),
            consumers: truth.consumers ?? null,
            url: shownUrl(target.url),
            events: [...target.events],
            sessions: target.sessions ? [...target.sessions] : null,
            filter: target.filter ? (filterSourceOf(target.filter) ?? null) : null,
            retry: pushed ? { ...target.retry } : null,
            concurrency: pushed ? { now: concurrency.get(name) ?? null, cap: target.concurrency } : null,
            ordering: target.ordering,
            signed: target.secrets.length > 0,
            lastHour: outcomesOf(lastHour.get(name)),
            lastDay: outcomesOf(lastDay.get(name)),
          }
        }),
      }
    },
  )

  for (const action of ['pause', 'resume'] as const) {
    app.post(
      `/admin/targets/:name/${action}`,
      {
        schema: {
          summary:
            action === 'pause'
              ? 'Hold a target’s deliveries (none lost, order kept) until resumed'
              : 'Send a paused target’s deliveries again, in order',
          params: targetParams,
          response: { 200: pauseAnswer, 404: errorAnswer, 409: errorAnswer, ...commonAnswers },
        },
      },
      async (request, reply) => {
        const { name } = request.params
        const target = opts.targets.find((t) => t.name === name)
        if (!target) return reply.code(404).send({ error: `unknown target "${name}"` })
        if (target.type === 'stream') {
          return reply
            .code(409)
            .send({ error: `"${name}" is a stream: its consumers pull, there is nothing to ${action}` })
        }
        const at = opts.now()
        await opts.store.setPaused(name, action === 'pause', at)
        await recordAudit(opts.store, request, at, { action, subject: name, count: null })
        if (action === 'resume') opts.onResume(name)
        request.log.info({ target: name }, action === 'pause' ? 'target paused' : 'target resumed')
        const paused = await opts.store.pausedTargets()
        return {
          name,
          state: stateOf(name, paused, opts.failingTargets()),
          pausedAt: paused.get(name) ?? null,
        }
      },
    )
  }
}

export const HOUR_MS = 60 * MINUTE_MS
export const hourOf = (at: number) => at - (at % HOUR_MS)
export const ageSeconds = (now: number, since: number) => Math.max(0, Math.round((now - since) / 1000))

function outcomesOf(counts: TrafficCounts | undefined) {
  return { delivered: counts?.delivered ?? 0, failed: counts?.failed ?? 0, dead: counts?.dead ?? 0 }
}
