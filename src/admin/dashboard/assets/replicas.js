// The replicas dispatching from the store, by their heartbeats (GET /admin/status `replicas`):
// on SQLite the one process, on PostgreSQL each replica, a dead one until it is forgotten.
import { badge, fill, h, table, time } from './dom.js'

/** Draws `replicas` into `region` (a section the overview owns). */
export function drawReplicas(region, replicas = []) {
  fill(
    region,
    h('h2', { id: 'replicas-h' }, 'Replicas'),
    replicas.length === 0
      ? h('p', {}, 'No heartbeat read: the store did not answer.')
      : table(
          'Replicas',
          ['Replica', 'State', 'Started', 'Last heartbeat'],
          replicas.map((replica) => [
            h('span', { title: replica.id }, replica.id.slice(0, 8), replica.current ? ' (this one)' : ''),
            replica.alive ? badge('alive', 'ok') : badge('dead', 'dead'),
            time(replica.startedAt),
            time(replica.lastBeatAt),
          ]),
        ),
  )
}
