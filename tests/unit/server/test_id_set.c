/* test_id_set.c - the bounded id set (core/id_set.h) that the training
 * gate keeps studies known clinical in: ids added are found and others
 * not, an id too long is neither added nor found, a full set forgets and
 * goes on, and threads adding and asking at once lose no id they added
 * and find none never added. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "capscreen/store.h"
#include "server/core/id_set.h"

static void test_added_found_others_not(void **state)
{
    (void)state;
    cs_id_set *s = cs_id_set_new(16);
    assert_non_null(s);
    assert_false(cs_id_set_has(s, "study-a"));
    cs_id_set_add(s, "study-a");
    cs_id_set_add(s, "study-a"); /* twice: still one */
    cs_id_set_add(s, "study-b");
    assert_true(cs_id_set_has(s, "study-a"));
    assert_true(cs_id_set_has(s, "study-b"));
    assert_false(cs_id_set_has(s, "study-c"));
    assert_false(cs_id_set_has(s, "study-")); /* a prefix is another id */
    assert_false(cs_id_set_has(s, ""));
    assert_false(cs_id_set_has(s, NULL));
    assert_int_equal(cs_id_set_count(s), 2);
    cs_id_set_free(s);
    /* No set (the server could not make one): nothing is ever known. */
    cs_id_set_add(NULL, "x");
    assert_false(cs_id_set_has(NULL, "x"));
}

static void test_too_long_never_kept(void **state)
{
    (void)state;
    cs_id_set *s = cs_id_set_new(16);
    char id[CS_ID_MAX + 1];
    memset(id, 'x', CS_ID_MAX);
    id[CS_ID_MAX] = '\0';
    cs_id_set_add(s, id);
    assert_false(cs_id_set_has(s, id));
    id[CS_ID_MAX - 1] = '\0'; /* the longest id that fits */
    cs_id_set_add(s, id);
    assert_true(cs_id_set_has(s, id));
    assert_int_equal(cs_id_set_count(s), 1);
    cs_id_set_free(s);
}

static void test_full_forgets_and_goes_on(void **state)
{
    (void)state;
    cs_id_set *s = cs_id_set_new(16);
    char id[32];
    size_t most = 0;
    for (int i = 0; i < 1000; i++) {
        snprintf(id, sizeof id, "s%d", i);
        cs_id_set_add(s, id);
        assert_true(cs_id_set_has(s, id)); /* the id just added is always there */
        size_t n = cs_id_set_count(s);
        most = n > most ? n : most;
    }
    /* Room for at least 16, and bounded: it forgot on the way. */
    assert_true(most >= 16);
    assert_true(most < 1000);
    assert_true(cs_id_set_count(s) <= most);
    cs_id_set_free(s);
}

typedef struct worker {
    cs_id_set *s;
    int base;
    int lost, invented;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    char id[32], other[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(id, sizeof id, "t%d-%d", w->base, i);
        cs_id_set_add(w->s, id);
        w->lost += !cs_id_set_has(w->s, id);
        snprintf(other, sizeof other, "never-%d-%d", w->base, i);
        w->invented += cs_id_set_has(w->s, other);
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    /* Large enough that nothing is forgotten: 4 x 2000 ids. */
    cs_id_set *s = cs_id_set_new(8000);
    pthread_t t[4];
    worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker){.s = s, .base = i};
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].lost, 0);
        assert_int_equal(w[i].invented, 0);
    }
    assert_int_equal(cs_id_set_count(s), 8000);
    char id[32];
    for (int b = 0; b < 4; b++)
        for (int i = 0; i < 2000; i += 97) {
            snprintf(id, sizeof id, "t%d-%d", b, i);
            assert_true(cs_id_set_has(s, id));
        }
    cs_id_set_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_added_found_others_not),
        cmocka_unit_test(test_too_long_never_kept),
        cmocka_unit_test(test_full_forgets_and_goes_on),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
