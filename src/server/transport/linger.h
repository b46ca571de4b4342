/* linger.h - lingering close: after the server answered a request whose
 * body it did not read (a refusal on the headers: 401, 409 study_closed,
 * 413, ...), keep reading and throwing away what the client still sends,
 * for a bounded time, before the socket is closed.
 *
 * Why: libmicrohttpd closes such a connection as soon as the answer is
 * sent. Closing a TCP socket with unread bytes makes the kernel answer
 * with a reset, and a client still writing its body (curl, a hub's
 * uplink) then fails its write ("broken pipe") and never reads the answer
 * it was sent: it sees a network error instead of the refusal. nginx does
 * the same under the name lingering_close, with the same two bounds.
 *
 * The router marks such connections (router/dispatch.c); when
 * libmicrohttpd is about to close one, cs_linger_add() takes a duplicate
 * of its socket, so libmicrohttpd's close() does not end the connection.
 * One thread then reads each lingering socket until the client closes
 * (end of file), CS_LINGER_IDLE_MS pass without a byte, or
 * CS_LINGER_TOTAL_MS pass in all; then it closes it. At most `capacity`
 * sockets linger at once; past that a socket closes at once, as it would
 * without this module (a client cannot make the server hold more).
 *
 * Ownership: cs_linger_add() duplicates the descriptor; the caller keeps
 * (and closes) its own. cs_linger_stop() closes every socket still held.
 * Threads: cs_linger_add() and cs_linger_count() from any thread; never
 * block on the network. start/stop from one thread.
 * Errors: start fails only without memory, a pipe or a thread. */
#ifndef CS_SERVER_TRANSPORT_LINGER_H
#define CS_SERVER_TRANSPORT_LINGER_H

#include <stdbool.h>

#include "capscreen/status.h"

/* nginx's defaults (lingering_timeout 5 s, lingering_time 30 s). */
#define CS_LINGER_IDLE_MS 5000
#define CS_LINGER_TOTAL_MS 30000

typedef struct cs_linger cs_linger;

/* Start the lingering thread. idle_ms and total_ms bound each socket as
 * above (tests pass small ones); capacity >= 1. */
cs_status cs_linger_start(int capacity, int idle_ms, int total_ms, cs_linger **out, cs_error *err);
/* Close every socket still lingering, end the thread, free. NULL is fine. */
void cs_linger_stop(cs_linger *l);

/* Linger on a duplicate of `fd` (a connected stream socket): shut down its
 * sending side and drain it as above. Returns false when it could not (at
 * capacity, no descriptor left, stopping): the caller's close() then ends
 * the connection at once. l may be NULL (returns false). */
bool cs_linger_add(cs_linger *l, int fd);

/* Sockets lingering now (added and not yet closed). */
int cs_linger_count(cs_linger *l);
/* Sockets handed to cs_linger_add() since the start, and those refused. */
unsigned long cs_linger_total(cs_linger *l);
unsigned long cs_linger_refused(cs_linger *l);

#endif
