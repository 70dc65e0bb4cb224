// Every route an app registers, read from Fastify's own route tree, so a test that covers "every
// route" covers the ones added later too.
import type { FastifyInstance } from 'fastify'

export interface RegisteredRoute {
  method: string
  url: string
}

/** The app's routes (HEAD routes Fastify adds beside each GET left out), after ready(). */
export function registeredRoutes(app: Pick<FastifyInstance, 'printRoutes'>): RegisteredRoute[] {
  const routes: RegisteredRoute[] = []
  const parents: string[] = []
  // Lines look like `│   ├── :name/pause (POST)`: four columns per level, each label the rest of its
  // parent's path.
  for (const line of app.printRoutes().split('\n')) {
    const match = /^(?<indent>[│ ]*)[├└]── (?<path>.+?)(?: \((?<methods>[A-Z, ]+)\))?$/.exec(line)
    if (!match?.groups) continue
    const { indent = '', path = '', methods } = match.groups
    const depth = indent.length / 4
    parents.length = depth
    const url = parents.join('') + path
    parents.push(path)
    for (const method of methods?.split(', ') ?? []) if (method !== 'HEAD') routes.push({ method, url })
  }
  return routes
}
