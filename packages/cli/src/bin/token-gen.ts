#!/usr/bin/env node
import { main } from '../commands/gen/program.js';

main(process.argv).then((code) => {
  process.exitCode = code;
});
