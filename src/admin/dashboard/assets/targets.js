// Targets: each one's state and backlog, paused and resumed.
import { api } from './api.js'
import { badge, fill, h, link, table, time } from './dom.js'
import { actionButton, unlessSame } from './ui.js'

export function targetsPage(main) {
  const list = h('section', { 'aria-label': 'Targets' })
  main.append(
    h('h1', {}, 'Targets'),
    h(
      'p',
      { class: 'muted' },
      'A paused target keeps its events, pending, for every replica and across restarts; resumed, it gets them in order.',
    ),
    list,
  )

  const draw = unlessSame(({ targets }) => {
    fill(
      list,
      targets.length === 0
        ? h('p', {}, 'No target is configured.')
        : table(
            'Targets',
            ['Target', 'Type', 'State', 'Pending', 'Paused since', '', ''],
            targets.map((target) => {
              const action = target.state === 'paused' ? 'resume' : 'pause'
              return [
                target.name,
                target.type,
                badge(target.state),
                h('span', { dataset: { pending: target.name } }, String(target.pending)),
                time(target.pausedAt),
                // A stream's consumers pull: nothing to hold back, and its pending is what they have not confirmed.
                target.type === 'stream'
                  ? ''
                  : actionButton(
                      action === 'pause' ? 'Pause' : 'Resume',
                      async () => {
                        // An empty JSON object: the relay wants JSON for a change made by a signed-in browser.
                        await api(`targets/${encodeURIComponent(target.name)}/${action}`, {
                          method: 'POST',
                          body: {},
                        })
                        return `${target.name} ${action === 'pause' ? 'paused' : 'resumed'}.`
                      },
                      {
                        'aria-label': `${action === 'pause' ? 'Pause' : 'Resume'} ${target.name}`,
                        dataset: { focus: `toggle ${target.name}` },
                      },
                    ),
                link(`#/dead?target=${encodeURIComponent(target.name)}`, 'Dead letters', {
                  'aria-label': `Dead letters of ${target.name}`,
                }),
              ]
            }),
          ),
    )
  })

  return { title: 'Targets', refresh: async () => draw(await api('targets')) }
}
