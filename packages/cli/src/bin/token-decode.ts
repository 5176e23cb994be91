#!/usr/bin/env node
import { main } from '../commands/decode/program.js';

main(process.argv).then((code) => {
  process.exitCode = code;
});
