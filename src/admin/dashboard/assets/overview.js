// The relay at a glance: is it well, what waits where, is WhatsGate pointed here.
import { withAlerts } from './alerts.js'
import { api } from './api.js'
import { age, badge, facts, fill, h, link, plural, table } from './dom.js'
import { emptyOutbox } from './empty.js'
import { drawReplicas } from './replicas.js'
import { unlessSame } from './ui.js'

export function overviewPage(main) {
  const relay = h('section', { 'aria-labelledby': 'relay-h' })
  const targets = h('section', { 'aria-labelledby': 'targets-h' })
  const registration = h('section', { 'aria-labelledby': 'registration-h' })
  main.append(h('h1', {}, 'Overview'), relay, targets, registration)
  const replicas = main.appendChild(h('section', { 'aria-labelledby': 'replicas-h' }))
  const alerts = main.appendChild(h('section', { 'aria-labelledby': 'alerts-h' }))

  const draw = unlessSame((status) => {
    fill(
      relay,
      h('h2', { id: 'relay-h' }, 'Relay'),
      facts([
        [
          'Store',
          [status.store.kind, ' ', status.store.healthy ? badge('ok') : badge('not answering', 'dead')],
        ],
        [
          'Events received',
          `${status.eventsReceived.lastMinute} in the last minute, ${status.eventsReceived.lastHour} in the last hour`,
        ],
        ['Version', status.version],
        ['Up for', age(status.uptimeSeconds)],
      ]),
      // Quiet for an hour: perhaps WhatsGate was never pointed here.
      status.eventsReceived.lastHour === 0 ? emptyOutbox() : null,
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
              badge(target.state),
              String(target.pending),
              age(target.oldestPendingAgeSeconds),
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

  return { title: 'Overview', refresh: withAlerts(alerts, async () => draw(await api('status'))) }
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
