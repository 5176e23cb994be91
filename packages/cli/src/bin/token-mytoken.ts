#!/usr/bin/env node
import { main } from '../commands/mytoken/program.js';

main(process.argv).then((code) => {
  process.exitCode = code;
});
