// Which code a launcher loads. In production (NODE_ENV=production), the JavaScript that
// `npm run build` compiled into dist/, when it is there: that saves memory, ~25 MB of the idle
// relay's resident set, which running TypeScript spends on Node's type stripper (a wasm module)
// and on holding each file's TypeScript and JavaScript. Otherwise the TypeScript in src/, which
// Node.js runs by stripping its types, so development and the tests need no build.
import { existsSync } from 'node:fs'

/** The URL to import for the entry `name` (main, cli): dist/<name>.js or src/<name>.ts. */
export function entry(name) {
  const built = new URL(`../dist/${name}.js`, import.meta.url)
  if (process.env.NODE_ENV === 'production' && existsSync(built)) return built.href
  return new URL(`../src/${name}.ts`, import.meta.url).href
}
