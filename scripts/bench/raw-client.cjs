// A minimal node:net client: connect to the agent socket, send one plaintext request, print the
// token. No argument parsing, no validation, no error handling: a baseline, not a tool. (token-get
// skips node:net altogether: packages/protocol/src/pipe-transport.ts.)
const s = require('node:net').connect(process.env.TOKEN_AGENT_SOCK);
let b = '';
s.on('data', (d) => (b += d));
s.on('end', () => process.stdout.write(JSON.parse(b).access_token + '\n'));
s.write(JSON.stringify({ request: 'access_token', account: process.argv[2] }));
