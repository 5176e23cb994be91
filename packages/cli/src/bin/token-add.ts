#!/usr/bin/env node
import { main } from '../commands/add/program.js';

main(process.argv).then((code) => {
  process.exitCode = code;
});
