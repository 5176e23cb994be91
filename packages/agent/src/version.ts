/** The agent's version, reported by `status` and in the User-Agent. */
export const VERSION = '0.1.0';
