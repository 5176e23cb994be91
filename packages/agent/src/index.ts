export { runAgent, main, type AgentOptions } from './main.js';
export { VERSION } from './version.js';
