#!/usr/bin/env node
// The agent daemon; started by `token-agent`, not meant to be run by hand (see --foreground).
import { main } from '../main.js';

void main();
