// Imported first by every launcher in this folder: on a Node.js older than package.json's engines
// the relay and the CLI stop here with one line that says what to do, instead of failing to load
// the TypeScript sources (Node.js 20 cannot even open a .ts file: ERR_UNKNOWN_FILE_EXTENSION).
// Plain JavaScript that every Node.js npm runs on can parse.
import { readFileSync } from 'node:fs'

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
const needed = Number(/\d+/.exec(pkg.engines.node)[0])
const pinned = Number(/\d+/.exec(pkg.dependencies.node)[0])
const found = Number(process.versions.node.split('.')[0])
if (found < needed) {
  process.stderr.write(
    `whatsgate-relay: needs Node.js ${needed} or newer, found ${process.versions.node} (${process.execPath}). ` +
      'Start it with "npm start" (the CLI: "npx whatsgate-relay") after "npm ci" without --ignore-scripts, ' +
      `which installs the Node.js ${pinned} the project pins; or install Node.js ${needed}+.\n`,
  )
  process.exit(1)
}
