// The relay's process entry (`npm start`, the container's CMD): checks the Node.js version in plain
// JavaScript, then loads the TypeScript entry, which Node.js runs by stripping its types.
import './check-node.js'

await import('../src/main.ts')
