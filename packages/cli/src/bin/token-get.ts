#!/usr/bin/env node
import { main } from '../commands/get/program.js';

main(process.argv).then((code) => {
  process.exitCode = code;
});
