// A target's state as the operator sees it: paused (in the store, for every replica) above failing
// (what this replica's dispatcher sees) above ok.
export type TargetState = 'ok' | 'failing' | 'paused'

export function stateOf(name: string, paused: Map<string, number>, failing: Iterable<string>): TargetState {
  if (paused.has(name)) return 'paused'
  return new Set(failing).has(name) ? 'failing' : 'ok'
}
