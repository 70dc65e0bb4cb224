// Refused requests: webhook requests the relay turned away after their token matched (not JSON,
// no identity, too large, ...), newest first, each with its headers and its body shown as text.
import { api, query } from './api.js'
import { fill, h, link, plural, time } from './dom.js'
import { unlessSame } from './ui.js'

/** Refused requests per page, newest first (the API pages them both ways). */
const PAGE_SIZE = 100

export function refusedPage(main, { query: params }) {
  const before = params.get('before') ?? ''
  const list = h('div')
  main.append(
    h('h1', {}, 'Refused requests'),
    h(
      'p',
      { class: 'hint' },
      'Webhook requests that carried the right token but could not be taken. WhatsGate was answered with the status shown; nothing was stored or delivered.',
    ),
    list,
  )
  const draw = unlessSame(({ refused, older }) => {
    fill(
      list,
      refused.length === 0
        ? h('p', {}, before ? 'No older ones.' : 'No request was refused.')
        : [h('p', {}, `${plural(refused.length, 'request')}, newest first.`), refused.map(refusedCard)],
      h(
        'p',
        { class: 'pager' },
        before ? link('#/refused', 'Latest') : null,
        before && older !== null ? ' · ' : null,
        older !== null ? link(`#/refused${query({ before: older })}`, 'Older') : null,
      ),
    )
  })
  return {
    title: 'Refused requests',
    refresh: async () => draw(await api(`refused${query({ before, limit: PAGE_SIZE })}`)),
  }
}

function refusedCard(row) {
  return h(
    'article',
    { class: 'kept-request', 'aria-label': `Refused request ${row.id}` },
    h('h2', {}, time(row.receivedAt), ` · ${row.reason} · HTTP ${row.status}`),
    h('h3', {}, 'Headers'),
    h('pre', { class: 'headers' }, headerLines(row.headers)),
    h('h3', {}, row.bodySize === null ? 'Body' : `Body (${plural(row.bodySize, 'byte')})`),
    row.body === null
      ? h('p', {}, 'Not read: it was too large.')
      : h(
          'pre',
          { class: 'body' },
          row.bodyEncoding === 'base64' ? `(not UTF-8, base64) ${row.body}` : row.body,
        ),
  )
}

/** Headers as `name: value` lines: text, never markup. */
export function headerLines(headers) {
  if (headers === null) return '(none: a backfilled event)'
  return Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}`)
    .join('\n')
}
