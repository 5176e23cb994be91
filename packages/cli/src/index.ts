export { ExitCode, CliError } from './output.js';
export { main as tokenGet } from './commands/get/program.js';
export { main as tokenAdd } from './commands/add/program.js';
export { main as tokenGen } from './commands/gen/program.js';
export { main as tokenAgent } from './commands/agent/program.js';
export { main as tokenDecode } from './commands/decode/program.js';
