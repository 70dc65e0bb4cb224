// The relay's process entry (`npm start`, the container's CMD): checks the Node.js version in plain
// JavaScript, then loads the relay: its build in production, else the TypeScript (entry.js).
import './check-node.js'
import { entry } from './entry.js'

await import(entry('main'))
