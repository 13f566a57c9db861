// Uploadista.Events browser client: the reconnection policy its per-upload subscriptions and its
// multiplexed socket share, so that both treat the server's close statuses (docs/protocol.md) alike.

/** Close statuses after which retrying cannot help: the server refused this client (docs/protocol.md). */
export const REFUSED = new Map([
  [4401, "not authenticated: the token is missing, invalid or expired"],
  [4403, "forbidden: not allowed to watch this"],
]);

/** Close statuses that mean this client broke the protocol; retrying would only repeat it. */
export const CLIENT_FAULTS = new Set([1003, 1007, 1008, 1009]);

/** A connection that stayed open this long (ms) starts the backoff over. */
export const STABLE_AFTER = 5000;

/** The server closes with this when the channel started over beneath the connection: reconnect without since. */
export const STARTED_OVER = 4010;

/** The delay before retry number attempt + 1: between half and all of minDelay × 2^attempt, at most maxDelay. */
export function backoff(client, attempt) {
  const ceiling = Math.min(client.maxDelay, client.minDelay * 2 ** attempt);
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2); // jitter: spreads a crowd's retries apart
}

/** False where the platform cannot tell (no navigator, as in Node): then it is taken to be online. */
export function offline() {
  return globalThis.navigator?.onLine === false;
}
