/* limiter.h - the failed-login limiter (docs/workstation.md, "Login
 * limits"). Failures are counted per (user name, client address) pair:
 * the first CS_LIMIT_PAIR_FREE failures of a pair cost nothing, each one
 * after that makes the pair wait 2^k seconds (k = failures beyond the free
 * ones, capped at CS_LIMIT_PAIR_MAX_S) before its next attempt is even
 * checked. A success clears the pair. Another address trying the same
 * name is not slowed by an attacker's pair, so nobody can lock someone
 * else's account. An IPv6 address counts as its /64 (pairs, the address
 * ceiling and the bursts' ip, "2001:db8:1:2::/64"): a host may take any
 * address of its /64, and would otherwise get fresh counts at will.
 *
 * A ceiling per address alone is kept for password spraying (one address,
 * many names): it starts only after CS_LIMIT_ADDR_FREE failures from the
 * address and its delay is capped at CS_LIMIT_ADDR_MAX_S, so a ward behind
 * one NAT address waits a minute at worst while a sprayer there gets one
 * guess a minute.
 *
 * Refused attempts (made while a delay runs) are not failures: they add
 * nothing to the delay; they are counted in the pair's "burst" so the
 * audit log gets one login.limited row per burst (audit.c), taken with
 * cs_limiter_take_burst once the burst has been quiet for
 * CS_LIMIT_BURST_QUIET_MS.
 *
 * Memory is fixed: CS_LIMIT_PAIRS pair slots and CS_LIMIT_ADDRS address
 * slots, allocated once. A full table evicts its least recently failing
 * slot (a forgotten one first); an evicted pair's burst is handed back so
 * no refused attempt goes unaudited.
 *
 * Several servers (a shared PostgreSQL store, cs_limiter_new_shared): the
 * counts and bursts live in the store (store.h, "several servers"), so an
 * attacker gains nothing by being balanced across servers and each burst
 * is audited once, by whichever server takes it. The rules are the same;
 * the fixed tables and eviction do not apply (the store forgets quiet
 * rows). With SQLite the limiter stays in memory: one server owns the
 * data folder, so its memory is the whole truth, and a login costs no
 * extra writes. A store failure during admit refuses the attempt for a
 * second (fails closed); a count lost to a store failure is only lost.
 *
 * Time is passed in (unix milliseconds), so the logic is testable.
 * Threads: every call takes the limiter's own mutex (or the store's).
 * Errors: none; _new returns NULL when out of memory. */
#ifndef CS_SERVER_LIMITER_H
#define CS_SERVER_LIMITER_H

#include <stdbool.h>
#include <stdint.h>

#include "capscreen/store.h"

#define CS_LIMIT_PAIR_FREE 3               /* failures of a pair before any delay */
#define CS_LIMIT_PAIR_MAX_S 900            /* a pair's delay is capped at 15 min */
#define CS_LIMIT_ADDR_FREE 100             /* failures from one address before its delay */
#define CS_LIMIT_ADDR_MAX_S 60             /* an address's delay is capped at 1 min */
#define CS_LIMIT_FORGET_MS (3600 * 1000LL) /* counts forgotten after an hour quiet */
#define CS_LIMIT_BURST_QUIET_MS 10000      /* a burst ends after 10 s without a refusal */
#define CS_LIMIT_PAIRS 4096
#define CS_LIMIT_ADDRS 1024

typedef struct cs_login_limiter cs_login_limiter;

/* Attempts refused for one pair, for one login.limited audit row.
 * refused == 0: no burst. */
typedef struct cs_login_burst {
    char user[CS_USER_MAX];
    char ip[CS_IP_MAX];
    uint64_t refused;
    int64_t first_ms, last_ms;
} cs_login_burst;

cs_login_limiter *cs_limiter_new(void);
/* A limiter whose counts live in `store` (which must outlive it) when the
 * store is shared (cs_store_shared); otherwise the in-memory one. */
cs_login_limiter *cs_limiter_new_shared(cs_store *store);
void cs_limiter_free(cs_login_limiter *l);

/* Before checking a password: milliseconds the pair (user, ip) must still
 * wait, 0 when the attempt may be checked now. A refusal (> 0) is counted
 * in the pair's burst. *evicted (refused 0 when none) gets a burst pushed
 * out of a full table; write it. */
int64_t cs_limiter_admit(cs_login_limiter *l, const char *user, const char *ip, int64_t now_ms,
                         cs_login_burst *evicted);
/* A checked attempt failed: count it for the pair and the address. */
void cs_limiter_failed(cs_login_limiter *l, const char *user, const char *ip, int64_t now_ms,
                       cs_login_burst *evicted);
/* A checked attempt succeeded: the pair starts afresh; *ended gets its
 * open burst (refused 0 when none). The address's count stays. */
void cs_limiter_succeeded(cs_login_limiter *l, const char *user, const char *ip,
                          cs_login_burst *ended);
/* Take one burst that has been quiet for CS_LIMIT_BURST_QUIET_MS (any
 * open burst when `all`): true when *out was filled. Call until false. */
bool cs_limiter_take_burst(cs_login_limiter *l, int64_t now_ms, bool all, cs_login_burst *out);

#endif
