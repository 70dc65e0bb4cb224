// Who did what: every replay, discard, pause and resume, newest first, with how it was asked
// for (the dashboard, the CLI, another API client) and by whom (a dashboard session, or a token).
import { api, query } from './api.js'
import { fill, h, link, time } from './dom.js'
import { unlessSame } from './ui.js'

const PAGE_SIZE = 50

export function auditPage(main, { query: params }) {
  const before = params.get('before') ?? ''
  const list = h('div')
  main.append(h('h1', {}, 'Audit'), list)
  const draw = unlessSame(({ entries, next }) => {
    fill(
      list,
      entries.length === 0
        ? h('p', {}, before ? 'Nothing older.' : 'Nothing was replayed, discarded, paused or resumed yet.')
        : h(
            'ol',
            { class: 'audit', 'aria-label': 'Changes, newest first' },
            entries.map((entry) =>
              h(
                'li',
                { class: 'audit-entry' },
                h('strong', {}, sentence(entry)),
                h('br'),
                time(entry.at),
                ` · via ${entry.via} · by ${who(entry)}`,
                entry.reason === null ? null : h('span', { class: 'reason' }, ` · why: ${entry.reason}`),
              ),
            ),
          ),
      h(
        'p',
        { class: 'pager' },
        before ? link('#/audit', 'Newest') : null,
        next === null ? null : link(`#/audit${query({ before: next })}`, 'Older changes'),
      ),
    )
  })
  return {
    title: 'Audit',
    refresh: async () => draw(await api(`audit${query({ before, limit: PAGE_SIZE })}`)),
  }
}

function who(entry) {
  return entry.session === null ? `${entry.role} token` : `${entry.role} session ${entry.session}`
}

/** "Replayed 3 deliveries: dead letters of crm, ...", "Paused crm". */
function sentence({ action, count, subject }) {
  const deliveries = count === 1 ? '1 delivery' : `${count} deliveries`
  if (action === 'pause') return `Paused ${subject}`
  if (action === 'resume') return `Resumed ${subject}`
  return `${action === 'replay' ? 'Replayed' : 'Discarded'} ${deliveries}: ${subject}`
}
