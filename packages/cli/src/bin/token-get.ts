#!/usr/bin/env node
import { main } from '../commands/get/main.js';

main(process.argv).then((code) => {
  process.exitCode = code;
});
