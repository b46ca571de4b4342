/* turns.h - turns taken in order of asking: a counting semaphore with a
 * deadline whose waiters are served first come, first served.
 *
 * At most `limit` holders at once. A caller that finds every turn taken
 * queues and waits up to its deadline; a turn given back passes straight
 * to the oldest waiter, so a newcomer never takes it ahead of someone
 * already waiting, and a waiter whose deadline passes leaves the queue
 * without holding anyone else up. (pthread_cond_signal wakes any waiter,
 * and a thread arriving as a turn is given back could take it first: the
 * password gate built that way let fresh logins pass older ones in a
 * flood, which then got 503 busy for having waited longest.)
 *
 * Waits are on the monotonic clock, so a step of the wall clock neither
 * cuts nor stretches them.
 *
 * Ownership: the caller owns the cs_turns (static or in a struct, set up
 * by CS_TURNS_INIT); nothing to free. Each waiter lives on its own stack.
 * Threads: any thread may take and give. Errors: cs_turns_take returns
 * false when no turn came by the deadline (or, rarely, when a waiter's
 * condition variable cannot be made: then it behaves as a timeout). */
#ifndef CS_SERVER_CORE_TURNS_H
#define CS_SERVER_CORE_TURNS_H

#include <pthread.h>
#include <stdbool.h>

typedef struct cs_turn_waiter cs_turn_waiter; /* private to turns.c */

typedef struct cs_turns {
    pthread_mutex_t mu;
    int limit;                   /* turns at once, at least 1 */
    int held;                    /* turns held now */
    cs_turn_waiter *head, *tail; /* waiting, oldest first */
    int waiting;
} cs_turns;

#define CS_TURNS_INIT(limit)                                 \
    {                                                        \
        PTHREAD_MUTEX_INITIALIZER, (limit), 0, NULL, NULL, 0 \
    }

/* Take a turn, waiting up to wait_ms (0: only if one is free now and
 * nobody waits). True: the caller holds a turn and must give it back
 * with cs_turns_give. False: none came by the deadline. */
bool cs_turns_take(cs_turns *t, int wait_ms);

/* Give a turn back: to the oldest waiter if there is one. */
void cs_turns_give(cs_turns *t);

/* How many callers wait now, and how many turns are held (tests, metrics). */
int cs_turns_waiting(cs_turns *t);
int cs_turns_held(cs_turns *t);

#endif
