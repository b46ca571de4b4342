/* test_turns.c - turns taken in order of asking (core/turns.h), the gate
 * in front of password hashing: up to the limit at once; a caller that
 * finds none waits until its deadline and gets false; a turn given back
 * goes to the oldest waiter, never to a newcomer; a waiter whose
 * deadline passes leaves the queue and the ones behind it keep their
 * order. */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "server/core/turns.h"

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits (polling) until n callers wait on t; fails the test after 10 s. */
static void until_waiting(cs_turns *t, int n)
{
    int64_t give_up = now_ms() + 10000;
    while (cs_turns_waiting(t) != n) {
        assert_true(now_ms() < give_up);
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
}

/* A thread that takes a turn (waiting up to wait_ms), notes its name in
 * the shared order when it gets one, holds the turn until the test lets
 * go (`released`), and gives it back. */
typedef struct taker {
    cs_turns *t;
    int wait_ms;
    char name;
    bool got;
    bool done; /* under order_mu */
    pthread_t th;
    char *order; /* shared, under order_mu */
} taker;

static pthread_mutex_t order_mu = PTHREAD_MUTEX_INITIALIZER;
static bool released = true; /* under order_mu */

static void set_released(bool r)
{
    pthread_mutex_lock(&order_mu);
    released = r;
    pthread_mutex_unlock(&order_mu);
}

static bool is_released(void)
{
    pthread_mutex_lock(&order_mu);
    bool r = released;
    pthread_mutex_unlock(&order_mu);
    return r;
}

static void *take_once(void *arg)
{
    taker *k = arg;
    k->got = cs_turns_take(k->t, k->wait_ms);
    if (k->got) {
        pthread_mutex_lock(&order_mu);
        size_t n = strlen(k->order);
        k->order[n] = k->name;
        k->order[n + 1] = '\0';
        pthread_mutex_unlock(&order_mu);
        int64_t give_up = now_ms() + 10000;
        while (!is_released() && now_ms() < give_up)
            nanosleep(&(struct timespec){0, 1000000}, NULL);
        cs_turns_give(k->t);
    }
    pthread_mutex_lock(&order_mu);
    k->done = true;
    pthread_mutex_unlock(&order_mu);
    return NULL;
}

/* Waits until k waits on t (n callers wait) or k has already finished (a
 * short deadline can pass before a loaded machine lets the test look). */
static void until_queued_or_done(cs_turns *t, int n, taker *k)
{
    int64_t give_up = now_ms() + 10000;
    for (;;) {
        pthread_mutex_lock(&order_mu);
        bool done = k->done;
        pthread_mutex_unlock(&order_mu);
        if (done || cs_turns_waiting(t) == n)
            return;
        assert_true(now_ms() < give_up);
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
}

static void start(taker *k, cs_turns *t, char name, int wait_ms, char *order)
{
    *k = (taker){.t = t, .wait_ms = wait_ms, .name = name, .order = order};
    assert_int_equal(pthread_create(&k->th, NULL, take_once, k), 0);
}

/* start, then wait until it is the n-th caller waiting on t */
static void start_queued(taker *k, cs_turns *t, char name, char *order, int n)
{
    start(k, t, name, 10000, order);
    until_waiting(t, n);
}

static void test_limit_and_deadline(void **state)
{
    (void)state;
    cs_turns t = CS_TURNS_INIT(2);
    assert_true(cs_turns_take(&t, 0));
    assert_true(cs_turns_take(&t, 0));
    assert_int_equal(cs_turns_held(&t), 2);
    assert_false(cs_turns_take(&t, 0)); /* none free, no wait */
    int64_t t0 = now_ms();
    assert_false(cs_turns_take(&t, 80)); /* waits its deadline out */
    assert_true(now_ms() - t0 >= 75);
    assert_int_equal(cs_turns_waiting(&t), 0); /* and left the queue */
    cs_turns_give(&t);
    assert_int_equal(cs_turns_held(&t), 1);
    assert_true(cs_turns_take(&t, 0));
    cs_turns_give(&t);
    cs_turns_give(&t);
    assert_int_equal(cs_turns_held(&t), 0);
    cs_turns_give(&t); /* one too many: nothing held stays nothing */
    assert_int_equal(cs_turns_held(&t), 0);
}

static void test_oldest_waiter_first_no_barging(void **state)
{
    (void)state;
    cs_turns t = CS_TURNS_INIT(1);
    char order[8] = "";
    taker a, b, c;
    assert_true(cs_turns_take(&t, 0)); /* the test holds the one turn */
    set_released(false);               /* and a will hold it when it has it */
    start_queued(&a, &t, 'a', order, 1);
    start_queued(&b, &t, 'b', order, 2);
    start_queued(&c, &t, 'c', order, 3);
    cs_turns_give(&t);
    /* The turn went to a, not back into a pool a newcomer can take. */
    assert_false(cs_turns_take(&t, 0));
    assert_int_equal(cs_turns_held(&t), 1);
    set_released(true);
    pthread_join(a.th, NULL);
    pthread_join(b.th, NULL);
    pthread_join(c.th, NULL);
    assert_true(a.got && b.got && c.got);
    assert_string_equal(order, "abc");
    assert_int_equal(cs_turns_held(&t), 0);
    assert_int_equal(cs_turns_waiting(&t), 0);
}

static void test_timed_out_waiter_leaves_the_queue(void **state)
{
    (void)state;
    cs_turns t = CS_TURNS_INIT(1);
    char order[8] = "";
    taker a, b, c;
    assert_true(cs_turns_take(&t, 0));
    start_queued(&a, &t, 'a', order, 1);
    start(&b, &t, 'b', 50, order); /* gives up while a (and c) wait */
    until_queued_or_done(&t, 2, &b);
    start(&c, &t, 'c', 10000, order);
    pthread_join(b.th, NULL);
    assert_false(b.got);
    until_waiting(&t, 2); /* a and c: b is out of the queue */
    cs_turns_give(&t);
    pthread_join(a.th, NULL);
    pthread_join(c.th, NULL);
    assert_string_equal(order, "ac");
    assert_int_equal(cs_turns_held(&t), 0);
    assert_int_equal(cs_turns_waiting(&t), 0);
}

/* Many threads through a gate of 3: never more than 3 inside, and every
 * one gets through (their deadlines are long). */
static cs_turns busy_gate = CS_TURNS_INIT(3);
static int inside, most_inside;

static void *pass_through(void *arg)
{
    (void)arg;
    for (int i = 0; i < 200; i++) {
        if (!cs_turns_take(&busy_gate, 10000))
            return (void *)1;
        pthread_mutex_lock(&order_mu);
        inside++;
        if (inside > most_inside)
            most_inside = inside;
        pthread_mutex_unlock(&order_mu);
        sched_yield();
        pthread_mutex_lock(&order_mu);
        inside--;
        pthread_mutex_unlock(&order_mu);
        cs_turns_give(&busy_gate);
    }
    return NULL;
}

static void test_never_more_than_the_limit(void **state)
{
    (void)state;
    pthread_t th[8];
    for (int i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&th[i], NULL, pass_through, NULL), 0);
    for (int i = 0; i < 8; i++) {
        void *r;
        pthread_join(th[i], &r);
        assert_null(r);
    }
    assert_true(most_inside >= 1 && most_inside <= 3);
    assert_int_equal(cs_turns_held(&busy_gate), 0);
    assert_int_equal(cs_turns_waiting(&busy_gate), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limit_and_deadline),
        cmocka_unit_test(test_oldest_waiter_first_no_barging),
        cmocka_unit_test(test_timed_out_waiter_leaves_the_queue),
        cmocka_unit_test(test_never_more_than_the_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
