// The first half of `npm run build`: empties dist/ (nothing stale from a removed module is left)
// and copies there every file under src/ that is not TypeScript (the dashboard's page, scripts and
// styles), because the code finds them next to itself through import.meta.url and tsc emits only
// the JavaScript. READMEs stay behind. Then tsc -p tsconfig.build.json compiles the rest.
import { cpSync, rmSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const src = fileURLToPath(new URL('../src', import.meta.url))
const dist = fileURLToPath(new URL('../dist', import.meta.url))

rmSync(dist, { recursive: true, force: true })
cpSync(src, dist, { recursive: true, filter: (path) => !/\.(ts|md)$/.test(path) })
