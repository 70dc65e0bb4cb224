// What an empty outbox means, and what to do about it: WhatsGate has not been pointed here yet.
import { h } from './dom.js'

/**
 * The callback WhatsGate must post to. The ingest token is a secret the dashboard never has: it
 * is written as a placeholder, with where to find it.
 */
export function emptyOutbox() {
  const callback = `${location.origin}/webhook/<INGEST_TOKEN>`
  return h(
    'div',
    { class: 'empty' },
    h('p', {}, h('strong', {}, 'No event has been received yet.')),
    h(
      'p',
      {},
      'Point WhatsGate’s webhook (set-hook, its ',
      h('code', {}, 'callback'),
      ') at ',
      h('code', { class: 'callback' }, callback),
      ' — the token is INGEST_TOKEN, or the one the relay keeps in DATA_DIR/ingest-token. ',
      'With WHATSGATE_API_KEY and PUBLIC_URL set, ',
      h('code', {}, 'whatsgate-relay register'),
      ' does it for every session.',
    ),
  )
}
