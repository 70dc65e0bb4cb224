// The open alerts (docs/alerts.md), for the overview's health panel: each condition, what it is
// about, what was seen and since when; then each session with its state and last event. Data goes
// in as text only (dom.js).
import { api } from './api.js'
import { badge, fill, h, table, time } from './dom.js'
import { unlessSame } from './ui.js'

/** Fetches GET /admin/alerts and shows its open conditions in `element` (a section). */
export async function showAlerts(element) {
  let draw = drawers.get(element)
  if (!draw) {
    draw = unlessSame((document) => drawAlerts(element, document))
    drawers.set(element, draw)
  }
  draw(await api('alerts'))
}

const drawers = new WeakMap()

/** A page's refresh that also shows the open alerts in `element`, after the page's own. */
export function withAlerts(element, refresh) {
  return async () => {
    await refresh()
    await showAlerts(element)
  }
}

function drawAlerts(element, document) {
  const open = document.open
  const sessions = document.sessions
  fill(
    element,
    h('h2', { id: 'alerts-h' }, 'Alerts'),
    open.length === 0
      ? h(
          'p',
          {},
          'No alert open.',
          document.channels.length === 0 ? ' No alert channel is set (ALERT_WEBHOOK_URL or ALERTS).' : '',
        )
      : table(
          'Open alerts',
          ['Condition', 'About', 'Seen', 'Since', 'Told'],
          open.map((alert) => [
            badge(alert.condition, 'dead'),
            alert.subject || 'the relay',
            alert.detail,
            time(alert.openedAt),
            alert.told ? 'yes' : 'not yet',
          ]),
        ),
    sessions.length === 0
      ? null
      : table(
          'Sessions',
          ['Session', 'State', 'Last event'],
          sessions.map((session) => [
            session.whatsappId,
            badge(session.state, session.state === 'ok' ? 'ok' : 'dead'),
            time(session.lastEventAt),
          ]),
        ),
  )
}
