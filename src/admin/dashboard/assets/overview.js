// The relay at a glance: is it well, what came in and what became of it (charts), what waits
// where, what died, which sessions are quiet, is WhatsGate pointed here.
import { withAlerts } from './alerts.js'
import { api } from './api.js'
import { lineChart } from './chart.js'
import { age, badge, facts, fill, h, link, plural, table, time } from './dom.js'
import { emptyOutbox } from './empty.js'
import { drawReplicas } from './replicas.js'
import { stateBadge } from './targets.js'
import { unlessSame } from './ui.js'

const RANGES = {
  hour: { title: 'Last hour, per minute', unit: 'minute' },
  day: { title: 'Last day, per hour', unit: 'hour' },
}

const SERIES = [
  { key: 'received', label: 'Received' },
  { key: 'delivered', label: 'Delivered' },
  { key: 'failed', label: 'Failed attempts' },
]

export function overviewPage(main, { query }) {
  const range = query.get('range') === 'day' ? 'day' : 'hour'
  const relay = h('section', { 'aria-labelledby': 'relay-h' })
  const traffic = h('section', { 'aria-labelledby': 'traffic-h' })
  const sessions = h('section', { 'aria-labelledby': 'sessions-h' })
  const targets = h('section', { 'aria-labelledby': 'targets-h' })
  const registration = h('section', { 'aria-labelledby': 'registration-h' })
  main.append(h('h1', {}, 'Overview'), relay, traffic, targets, sessions, registration)
  const replicas = main.appendChild(h('section', { 'aria-labelledby': 'replicas-h' }))
  const alerts = main.appendChild(h('section', { 'aria-labelledby': 'alerts-h' }))

  const draw = unlessSame(({ status, stats }) => {
    fill(
      relay,
      h('h2', { id: 'relay-h' }, 'Relay'),
      facts([
        [
          'Store',
          [status.store.kind, ' ', status.store.healthy ? badge('ok') : badge('not answering', 'dead')],
        ],
        ['Last event received', lastEvent(stats.lastEventAt)],
        [
          'Events received',
          `${status.eventsReceived.lastMinute} in the last minute, ${status.eventsReceived.lastHour} in the last hour`,
        ],
        [
          'Backlog',
          h(
            'span',
            { dataset: { stat: 'backlog' } },
            plural(stats.backlog, 'delivery', 'deliveries'),
            ' pending',
          ),
        ],
        [
          'Dead letters',
          stats.deadLetters === 0
            ? h('span', { dataset: { stat: 'dead' } }, 'none')
            : link('#/dead', plural(stats.deadLetters, 'dead letter'), { dataset: { stat: 'dead' } }),
        ],
        ['Version', status.version],
        ['Up for', age(status.uptimeSeconds)],
      ]),
      // Quiet for an hour: perhaps WhatsGate was never pointed here.
      status.eventsReceived.lastHour === 0 ? emptyOutbox() : null,
    )
    fill(
      traffic,
      h('h2', { id: 'traffic-h' }, 'Traffic'),
      h(
        'p',
        { class: 'chart-ranges' },
        Object.entries(RANGES).map(([name, { title }]) =>
          link(`#/overview${name === 'hour' ? '' : '?range=day'}`, title, {
            'aria-current': name === range ? 'true' : undefined,
          }),
        ),
      ),
      lineChart({
        caption: RANGES[range].title,
        buckets: stats.buckets,
        series: SERIES,
        label: labelsOf(range),
      }),
      h(
        'p',
        { class: 'muted' },
        `In this ${range}: ${stats.totals.dead} ${stats.totals.dead === 1 ? 'delivery' : 'deliveries'} died. Counted by the store, the same on every replica.`,
      ),
    )
    fill(
      targets,
      h('h2', { id: 'targets-h' }, 'Targets'),
      status.targets.length === 0
        ? h('p', {}, 'No target is configured: events are stored and acknowledged but forwarded nowhere.')
        : table(
            'Targets',
            ['Target', 'Type', 'State', 'Pending', 'Oldest waiting'],
            status.targets.map((target) => [
              link(`#/dead?target=${encodeURIComponent(target.name)}`, target.name, {
                title: `Dead letters of ${target.name}`,
              }),
              target.type,
              stateBadge(target),
              String(target.pending),
              age(target.oldestPendingAgeSeconds),
            ]),
          ),
    )
    fill(
      sessions,
      h('h2', { id: 'sessions-h' }, 'Last event per session'),
      stats.sessions.length === 0
        ? h('p', {}, 'No event received yet: point WhatsGate’s webhook at this relay.')
        : table(
            'Last event per session',
            ['Session', 'Last event received', 'Ago'],
            stats.sessions.map((session) => [
              link(`#/events?session=${encodeURIComponent(session.whatsappId)}`, session.whatsappId, {
                title: `Events of ${session.whatsappId}`,
              }),
              time(session.lastEventAt),
              age((Date.now() - session.lastEventAt) / 1000),
            ]),
          ),
    )
    fill(
      registration,
      h('h2', { id: 'registration-h' }, 'WhatsGate registration'),
      registrationOf(status.registration),
    )
    drawReplicas(replicas, status.replicas)
  })

  return {
    title: 'Overview',
    refresh: withAlerts(alerts, async () => {
      const [status, stats] = await Promise.all([api('status'), api(`stats?range=${range}`)])
      draw({ status, stats })
    }),
  }
}

function lastEvent(at) {
  // time() says how long ago beside the instant.
  return at === null ? 'never: point WhatsGate’s webhook at this relay' : time(at)
}

const pad = (n) => String(n).padStart(2, '0')
const hhmm = (at) => {
  const d = new Date(at)
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`
}

/** How a bucket is named: on the axis (short), in the table (long), in the summary (its unit). */
function labelsOf(range) {
  return {
    unit: RANGES[range].unit,
    heading: range === 'hour' ? 'Minute' : 'Hour',
    short: hhmm,
    long: (at) => {
      const d = new Date(at)
      const day = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`
      return `${day} ${hhmm(at)}`
    },
  }
}

function registrationOf(registration) {
  if (registration === null) {
    return h('p', {}, 'Not managed by the relay (no WHATSGATE_API_KEY or PUBLIC_URL).')
  }
  const sessions = registration.sessions
  return [
    facts(
      [
        ['State', registration.state],
        ['Sessions found', registration.discovery],
        registration.unauthorized ? ['API key', badge('rejected by WhatsGate', 'dead')] : null,
        registration.error ? ['Error', registration.error] : null,
      ].filter(Boolean),
    ),
    sessions.length === 0
      ? h('p', {}, 'No session to register.')
      : table(
          'Sessions',
          ['Session', 'Outcome', 'Attempts', 'Error'],
          sessions.map((session) => [
            link(`#/events?session=${encodeURIComponent(session.whatsappId)}`, session.whatsappId, {
              title: `Events of ${session.whatsappId}`,
            }),
            badge(
              session.outcome,
              session.outcome === 'failed' ? 'dead' : session.outcome === 'pending' ? 'pending' : 'ok',
            ),
            plural(session.attempts, 'attempt'),
            session.error ?? '',
          ]),
        ),
  ]
}
