/* relay.h - the signals (core/signals.h) between servers that share one
 * PostgreSQL store (docs/deploy.md, "Several servers"). What moves here
 * (frames stored, sessions ended, devices revoked) is announced with a
 * NOTIFY on channel "capscreen"; what another server announces moves the
 * same signal here. So a browser's event stream wakes on whichever server
 * it is connected to, a logout on one server ends event streams on all,
 * and a device revoked on one stops its body in flight on another.
 *
 * One thread per server: it waits on a listener connection (at most
 * RELAY_TICK_MS at a time), then announces what moved locally since its
 * last look, at most once per tick (announcements coalesce). A payload is
 * "<server instance>:<letters>" (p progress, s sessions, d devices); a
 * server ignores its own. A lost listener connection is re-established
 * and counts as "everything moved".
 *
 * Threads: start and stop from the server's thread. Errors: cs_relay_start
 * fails with the store's error when the listener cannot connect. */
#ifndef CS_SERVER_CORE_RELAY_H
#define CS_SERVER_CORE_RELAY_H

#include "server/core/core.h"

typedef struct cs_relay cs_relay;

/* Start relaying `signals` through `store` when it is shared
 * (cs_store_shared); otherwise *out is NULL and nothing runs. Both must
 * outlive the relay. */
cs_status cs_relay_start(cs_store *store, cs_signals *signals, cs_relay **out,
                         cs_error *err) CS_WARN_UNUSED;
/* Stop the thread and close the listener. Accepts NULL. */
void cs_relay_stop(cs_relay *r);

#endif
