#!/usr/bin/env node
import { main } from '../commands/agent/program.js';

main(process.argv).then((code) => {
  process.exitCode = code;
});
