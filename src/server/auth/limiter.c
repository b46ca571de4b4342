/* limiter.c - failed logins per (user, address) pair and per address, in
 * fixed tables (limiter.h says the rules). */
#include "server/auth/limiter.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct pair_slot {
    bool used;
    char user[CS_USER_MAX];
    char ip[CS_IP_MAX];
    int fails;
    int64_t last_fail_ms;
    cs_login_burst burst; /* refused attempts not yet audited */
} pair_slot;

typedef struct addr_slot {
    bool used;
    char ip[CS_IP_MAX];
    int fails;
    int64_t last_fail_ms;
} addr_slot;

struct cs_login_limiter {
    cs_store *store; /* shared store holding the counts; NULL: the tables below */
    pthread_mutex_t mu;
    pair_slot pairs[CS_LIMIT_PAIRS];
    addr_slot addrs[CS_LIMIT_ADDRS];
};

cs_login_limiter *cs_limiter_new(void)
{
    cs_login_limiter *l = calloc(1, sizeof *l);
    if (l)
        pthread_mutex_init(&l->mu, NULL);
    return l;
}

cs_login_limiter *cs_limiter_new_shared(cs_store *store)
{
    cs_login_limiter *l = cs_limiter_new();
    if (l && cs_store_shared(store))
        l->store = store;
    return l;
}

void cs_limiter_free(cs_login_limiter *l)
{
    if (!l)
        return;
    pthread_mutex_destroy(&l->mu);
    free(l);
}

/* The delay after `fails` failures: 2^(fails - free) s, capped; 0 within
 * the free ones. */
static int64_t delay_ms(int fails, int free_fails, int64_t max_s)
{
    if (fails <= free_fails)
        return 0;
    int k = fails - free_fails;
    int64_t s = k >= 30 ? max_s : (int64_t)1 << k;
    return (s < max_s ? s : max_s) * 1000;
}

/* How long a count holds an attempt at now_ms back: nothing within its
 * free failures, whatever the clocks say. Requests run side by side: a
 * failure another one recorded after this one read the time carries a
 * later stamp, and "last failure + no delay - now" would then refuse an
 * attempt no rule refuses (seen with 48 logins at once on PostgreSQL,
 * where the admit waits its turn for the store). */
static int64_t wait_of(int fails, int64_t last_fail_ms, int free_fails, int64_t max_s,
                       int64_t now_ms)
{
    int64_t d = delay_ms(fails, free_fails, max_s);
    return d > 0 ? last_fail_ms + d - now_ms : 0;
}

static int64_t pair_active_ms(const pair_slot *p)
{
    return p->burst.refused && p->burst.last_ms > p->last_fail_ms ? p->burst.last_ms
                                                                  : p->last_fail_ms;
}

/* A pair quiet for the forget time starts afresh (its burst, if any, is
 * kept until taken). */
static void pair_age(pair_slot *p, int64_t now_ms)
{
    if (p->fails && now_ms - p->last_fail_ms >= CS_LIMIT_FORGET_MS)
        p->fails = 0;
}

/* The pair's slot; with `create`, a new one (evicting the least recently
 * active slot of a full table, whose burst goes to *evicted). Under mu. */
static pair_slot *pair_of(cs_login_limiter *l, const char *user, const char *ip, int64_t now_ms,
                          bool create, cs_login_burst *evicted)
{
    pair_slot *spare = NULL, *oldest = NULL;
    for (size_t i = 0; i < CS_LIMIT_PAIRS; i++) {
        pair_slot *p = &l->pairs[i];
        if (p->used && strcmp(p->user, user) == 0 && strcmp(p->ip, ip) == 0) {
            pair_age(p, now_ms);
            return p;
        }
        if (p->used)
            pair_age(p, now_ms);
        bool idle = !p->used || (p->fails == 0 && p->burst.refused == 0);
        if (idle && !spare)
            spare = p;
        if (!oldest || pair_active_ms(p) < pair_active_ms(oldest))
            oldest = p;
    }
    if (!create)
        return NULL;
    pair_slot *p = spare ? spare : oldest;
    if (!spare && evicted && p->burst.refused)
        *evicted = p->burst;
    memset(p, 0, sizeof *p);
    p->used = true;
    snprintf(p->user, sizeof p->user, "%s", user);
    snprintf(p->ip, sizeof p->ip, "%s", ip);
    return p;
}

static addr_slot *addr_of(cs_login_limiter *l, const char *ip, int64_t now_ms, bool create)
{
    addr_slot *spare = NULL, *oldest = NULL;
    for (size_t i = 0; i < CS_LIMIT_ADDRS; i++) {
        addr_slot *a = &l->addrs[i];
        if (a->used && a->fails && now_ms - a->last_fail_ms >= CS_LIMIT_FORGET_MS)
            a->fails = 0;
        if (a->used && strcmp(a->ip, ip) == 0)
            return a;
        if ((!a->used || a->fails == 0) && !spare)
            spare = a;
        if (!oldest || a->last_fail_ms < oldest->last_fail_ms)
            oldest = a;
    }
    if (!create)
        return NULL;
    addr_slot *a = spare ? spare : oldest;
    memset(a, 0, sizeof *a);
    a->used = true;
    snprintf(a->ip, sizeof a->ip, "%s", ip);
    return a;
}

/* The address the limits count: an IPv6 address by its /64, the block a
 * host or household is given and picks new addresses in at will (else
 * each guess could come from a fresh address); IPv4 as it is. */
static const char *limit_addr(const char *ip, char out[CS_IP_MAX])
{
    struct in6_addr a;
    char text[INET6_ADDRSTRLEN];
    if (!strchr(ip, ':') || inet_pton(AF_INET6, ip, &a) != 1 || IN6_IS_ADDR_V4MAPPED(&a))
        return ip;
    memset(a.s6_addr + 8, 0, 8);
    if (!inet_ntop(AF_INET6, &a, text, sizeof text))
        return ip;
    snprintf(out, CS_IP_MAX, "%s/64", text);
    return out;
}

/* ---- counts in a shared store ------------------------------------------- */

static void from_rec(const cs_login_burst_rec *r, cs_login_burst *b)
{
    memset(b, 0, sizeof *b);
    if (!r->refused)
        return;
    snprintf(b->user, sizeof b->user, "%s", r->user);
    snprintf(b->ip, sizeof b->ip, "%s", r->ip);
    b->refused = r->refused;
    b->first_ms = r->first_ms;
    b->last_ms = r->last_ms;
}

static int64_t shared_admit(cs_login_limiter *l, const char *user, const char *ip, int64_t now_ms)
{
    cs_login_counts c;
    cs_error e = {0};
    if (cs_store_login_counts(l->store, user, ip, now_ms, CS_LIMIT_FORGET_MS, &c, &e) != CS_OK) {
        fprintf(stderr, "capscreen: login limits: cannot read the counts (%s): attempt refused\n",
                e.msg);
        return 1000; /* fail closed: the password is not checked blind */
    }
    int64_t wait = 0;
    int64_t w =
        wait_of(c.pair_fails, c.pair_last_ms, CS_LIMIT_PAIR_FREE, CS_LIMIT_PAIR_MAX_S, now_ms);
    wait = w > wait ? w : wait;
    w = wait_of(c.addr_fails, c.addr_last_ms, CS_LIMIT_ADDR_FREE, CS_LIMIT_ADDR_MAX_S, now_ms);
    wait = w > wait ? w : wait;
    if (wait > 0 && cs_store_login_refused(l->store, user, ip, now_ms, &e) != CS_OK)
        return wait; /* the burst's count is lost; the refusal stands */
    return wait;
}

static void no_burst(cs_login_burst *b)
{
    if (b)
        memset(b, 0, sizeof *b);
}

int64_t cs_limiter_admit(cs_login_limiter *l, const char *user, const char *ip, int64_t now_ms,
                         cs_login_burst *evicted)
{
    char key[CS_IP_MAX];
    ip = limit_addr(ip, key);
    no_burst(evicted);
    if (l->store)
        return shared_admit(l, user, ip, now_ms);
    int64_t wait = 0;
    pthread_mutex_lock(&l->mu);
    pair_slot *p = pair_of(l, user, ip, now_ms, false, NULL);
    if (p) {
        int64_t w =
            wait_of(p->fails, p->last_fail_ms, CS_LIMIT_PAIR_FREE, CS_LIMIT_PAIR_MAX_S, now_ms);
        if (w > wait)
            wait = w;
    }
    addr_slot *a = addr_of(l, ip, now_ms, false);
    if (a) {
        int64_t w =
            wait_of(a->fails, a->last_fail_ms, CS_LIMIT_ADDR_FREE, CS_LIMIT_ADDR_MAX_S, now_ms);
        if (w > wait)
            wait = w;
    }
    if (wait > 0) {
        if (!p)
            p = pair_of(l, user, ip, now_ms, true, evicted);
        if (p->burst.refused == 0) {
            snprintf(p->burst.user, sizeof p->burst.user, "%s", user);
            snprintf(p->burst.ip, sizeof p->burst.ip, "%s", ip);
            p->burst.first_ms = now_ms;
        }
        p->burst.refused++;
        p->burst.last_ms = now_ms;
    }
    pthread_mutex_unlock(&l->mu);
    return wait;
}

void cs_limiter_failed(cs_login_limiter *l, const char *user, const char *ip, int64_t now_ms,
                       cs_login_burst *evicted)
{
    char key[CS_IP_MAX];
    ip = limit_addr(ip, key);
    no_burst(evicted);
    if (l->store) {
        cs_error e = {0};
        cs_status st = cs_store_login_failed(l->store, user, ip, now_ms, CS_LIMIT_FORGET_MS, &e);
        (void)st; /* a count lost to a store failure is only lost (limiter.h) */
        return;
    }
    pthread_mutex_lock(&l->mu);
    pair_slot *p = pair_of(l, user, ip, now_ms, true, evicted);
    p->fails++;
    p->last_fail_ms = now_ms;
    addr_slot *a = addr_of(l, ip, now_ms, true);
    a->fails++;
    a->last_fail_ms = now_ms;
    pthread_mutex_unlock(&l->mu);
}

void cs_limiter_succeeded(cs_login_limiter *l, const char *user, const char *ip,
                          cs_login_burst *ended)
{
    char key[CS_IP_MAX];
    ip = limit_addr(ip, key);
    no_burst(ended);
    if (l->store) {
        cs_login_burst_rec r;
        cs_error e = {0};
        if (cs_store_login_cleared(l->store, user, ip, &r, &e) == CS_OK && ended)
            from_rec(&r, ended);
        return;
    }
    pthread_mutex_lock(&l->mu);
    pair_slot *p = pair_of(l, user, ip, 0, false, NULL);
    if (p) {
        if (ended)
            *ended = p->burst;
        memset(p, 0, sizeof *p);
    }
    pthread_mutex_unlock(&l->mu);
}

bool cs_limiter_take_burst(cs_login_limiter *l, int64_t now_ms, bool all, cs_login_burst *out)
{
    bool found = false;
    if (l->store) {
        cs_login_burst_rec r;
        cs_error e = {0};
        if (cs_store_login_take_burst(l->store, now_ms, CS_LIMIT_BURST_QUIET_MS, all,
                                      CS_LIMIT_FORGET_MS, &found, &r, &e) != CS_OK)
            return false;
        if (found)
            from_rec(&r, out);
        return found;
    }
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < CS_LIMIT_PAIRS && !found; i++) {
        pair_slot *p = &l->pairs[i];
        if (p->used && p->burst.refused &&
            (all || now_ms - p->burst.last_ms >= CS_LIMIT_BURST_QUIET_MS)) {
            *out = p->burst;
            memset(&p->burst, 0, sizeof p->burst);
            found = true;
        }
    }
    pthread_mutex_unlock(&l->mu);
    return found;
}
