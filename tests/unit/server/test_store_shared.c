/* test_store_shared.c - what several servers share through the store
 * (schema 10, store.h "several servers"). On SQLite every call answers
 * CS_ERR_UNSUPPORTED and cs_store_shared() is false. On PostgreSQL two
 * stores opened on the same database stand for two servers (two
 * connections, two holders): failed-login counts add up across them and
 * are forgotten when quiet; a burst is taken once; an upload lease and an
 * analysis claim have one holder at a time, pass on when the holder's
 * connection closes (a killed server) or goes stale, and a refused
 * claimer's wake keeps the holder from letting go; a notification from one
 * reaches the other's listener. */
#include "store_fixture.h"

/* A second server: another store on f's database. */
static cs_store *second(const fx *f)
{
    cs_store *s = NULL;
    cs_error e = {0};
    assert_int_equal(fx_open_store(f, &s, &e), CS_OK);
    return s;
}

/* A closed connection's backend leaves pg_stat_activity moments later
 * (it exits after the client's goodbye): poll, at most 10 s. */
static bool soon(bool (*cond)(cs_store *, const char *), cs_store *s, const char *id)
{
    for (int i = 0; i < 1000; i++) {
        if (cond(s, id))
            return true;
        usleep(10000);
    }
    return false;
}

static bool lease_free(cs_store *s, const char *id)
{
    bool held = true;
    cs_error e = {0};
    assert_int_equal(cs_store_upload_lease_held(s, id, &held, &e), CS_OK);
    return !held;
}

static bool claim_got_fresh(cs_store *s, const char *id)
{
    bool got = false, fresh = false;
    cs_error e = {0};
    assert_int_equal(cs_store_ingest_claim(s, id, 30000, &got, &fresh, &e), CS_OK);
    return got && fresh;
}

static void sqlite_keeps_them_in_memory(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    bool b = true, fresh = true;
    cs_login_counts c;
    if (fx_pg()) {
        assert_true(cs_store_shared(f->s));
        return;
    }
    assert_false(cs_store_shared(f->s));
    assert_int_equal(cs_store_login_counts(f->s, "u", "1.2.3.4", 0, 1000, &c, &e),
                     CS_ERR_UNSUPPORTED);
    assert_int_equal(cs_store_upload_lease_take(f->s, "up", 1000, &b, &e), CS_ERR_UNSUPPORTED);
    assert_false(b);
    assert_int_equal(cs_store_ingest_claim(f->s, "s", 1000, &b, &fresh, &e), CS_ERR_UNSUPPORTED);
    assert_false(b);
    /* the schema is the same on both backends */
    assert_int_equal(fx_sql_scalar(f, "SELECT COUNT(*) FROM login_limits"), 0);
    assert_int_equal(fx_sql_scalar(f, "SELECT COUNT(*) FROM upload_leases"), 0);
    assert_int_equal(fx_sql_scalar(f, "SELECT COUNT(*) FROM ingest_claims"), 0);
}

static void login_counts_add_up_across_servers(void **state)
{
    fx *f = *state;
    if (!fx_pg())
        skip();
    cs_store *b = second(f);
    cs_error e = {0};
    cs_login_counts c;
    const int64_t forget = 3600000;
    assert_int_equal(cs_store_login_failed(f->s, "ann", "10.0.0.1", 1000, forget, &e), CS_OK);
    assert_int_equal(cs_store_login_failed(b, "ann", "10.0.0.1", 2000, forget, &e), CS_OK);
    assert_int_equal(cs_store_login_failed(b, "bob", "10.0.0.1", 3000, forget, &e), CS_OK);
    assert_int_equal(cs_store_login_counts(f->s, "ann", "10.0.0.1", 3500, forget, &c, &e), CS_OK);
    assert_int_equal(c.pair_fails, 2);
    assert_int_equal(c.pair_last_ms, 2000);
    assert_int_equal(c.addr_fails, 3); /* the address counts every name */
    assert_int_equal(c.addr_last_ms, 3000);
    /* another address is not slowed */
    assert_int_equal(cs_store_login_counts(b, "ann", "10.0.0.2", 3500, forget, &c, &e), CS_OK);
    assert_int_equal(c.pair_fails + c.addr_fails, 0);
    /* quiet for the forget time: read as 0, and a new failure starts at 1 */
    assert_int_equal(cs_store_login_counts(b, "ann", "10.0.0.1", 2000 + forget, forget, &c, &e),
                     CS_OK);
    assert_int_equal(c.pair_fails, 0);
    assert_int_equal(cs_store_login_failed(b, "ann", "10.0.0.1", 2000 + forget, forget, &e), CS_OK);
    assert_int_equal(cs_store_login_counts(f->s, "ann", "10.0.0.1", 2001 + forget, forget, &c, &e),
                     CS_OK);
    assert_int_equal(c.pair_fails, 1);

    /* refusals gather in one burst per pair, taken once when quiet */
    assert_int_equal(cs_store_login_refused(f->s, "ann", "10.0.0.1", 5000, &e), CS_OK);
    assert_int_equal(cs_store_login_refused(b, "ann", "10.0.0.1", 6000, &e), CS_OK);
    cs_login_burst_rec r;
    bool found = true;
    assert_int_equal(cs_store_login_take_burst(b, 7000, 10000, false, forget, &found, &r, &e),
                     CS_OK);
    assert_false(found); /* not quiet yet */
    assert_int_equal(cs_store_login_take_burst(b, 16000, 10000, false, forget, &found, &r, &e),
                     CS_OK);
    assert_true(found);
    assert_string_equal(r.user, "ann");
    assert_string_equal(r.ip, "10.0.0.1");
    assert_int_equal(r.refused, 2);
    assert_int_equal(r.first_ms, 5000);
    assert_int_equal(r.last_ms, 6000);
    assert_int_equal(cs_store_login_take_burst(f->s, 16000, 10000, true, forget, &found, &r, &e),
                     CS_OK);
    assert_false(found); /* taken already */

    /* a success clears the pair (handing back its open burst), not the address */
    assert_int_equal(cs_store_login_refused(f->s, "ann", "10.0.0.1", 20000, &e), CS_OK);
    assert_int_equal(cs_store_login_cleared(b, "ann", "10.0.0.1", &r, &e), CS_OK);
    assert_int_equal(r.refused, 1);
    assert_int_equal(cs_store_login_counts(f->s, "ann", "10.0.0.1", 20001, forget, &c, &e), CS_OK);
    assert_int_equal(c.pair_fails, 0);
    assert_true(c.addr_fails > 0);
    cs_store_close(b);
}

static void an_upload_lease_has_one_holder(void **state)
{
    fx *f = *state;
    if (!fx_pg())
        skip();
    cs_store *b = second(f);
    cs_error e = {0};
    bool took = false, held = false;
    assert_int_equal(cs_store_upload_lease_take(f->s, "up1", 60000, &took, &e), CS_OK);
    assert_true(took);
    assert_int_equal(cs_store_upload_lease_take(f->s, "up1", 60000, &took, &e), CS_OK);
    assert_true(took); /* its own again */
    assert_int_equal(cs_store_upload_lease_take(b, "up1", 60000, &took, &e), CS_OK);
    assert_false(took);
    assert_int_equal(cs_store_upload_lease_held(b, "up1", &held, &e), CS_OK);
    assert_true(held);
    assert_int_equal(cs_store_upload_lease_held(f->s, "up1", &held, &e), CS_OK);
    assert_false(held); /* held, but by the asker */
    assert_int_equal(cs_store_upload_lease_beat(b, "up1", &held, &e), CS_OK);
    assert_false(held);
    assert_int_equal(cs_store_upload_lease_beat(f->s, "up1", &held, &e), CS_OK);
    assert_true(held);
    /* silent for longer than the stale time: taken over; the old holder's
     * next beat finds it gone */
    fx_sql(f, "UPDATE upload_leases SET beat_ms = beat_ms - 61000");
    assert_int_equal(cs_store_upload_lease_take(b, "up1", 60000, &took, &e), CS_OK);
    assert_true(took);
    assert_int_equal(cs_store_upload_lease_beat(f->s, "up1", &held, &e), CS_OK);
    assert_false(held);
    assert_int_equal(cs_store_upload_lease_drop(f->s, "up1", &e), CS_OK); /* not its own: no-op */
    assert_int_equal(cs_store_upload_lease_held(f->s, "up1", &held, &e), CS_OK);
    assert_true(held);
    /* the holder's connection goes (a killed server): free at once */
    cs_store_close(b);
    assert_true(soon(lease_free, f->s, "up1"));
    assert_int_equal(cs_store_upload_lease_take(f->s, "up1", 60000, &took, &e), CS_OK);
    assert_true(took);
    assert_int_equal(cs_store_upload_lease_drop(f->s, "up1", &e), CS_OK);
    assert_int_equal(fx_sql_scalar(f, "SELECT COUNT(*) FROM upload_leases"), 0);
}

static void an_analysis_claim_has_one_holder(void **state)
{
    fx *f = *state;
    if (!fx_pg())
        skip();
    cs_store *b = second(f);
    cs_error e = {0};
    bool got = false, fresh = false, woken = true;
    assert_int_equal(cs_store_ingest_claim(f->s, "s", 30000, &got, &fresh, &e), CS_OK);
    assert_true(got);
    assert_true(fresh); /* nobody held it before */
    assert_int_equal(cs_store_ingest_claim(f->s, "s", 30000, &got, &fresh, &e), CS_OK);
    assert_true(got);
    assert_false(fresh); /* a renewal */
    /* B is refused and asks A to look again: A keeps it once */
    assert_int_equal(cs_store_ingest_claim(b, "s", 30000, &got, &fresh, &e), CS_OK);
    assert_false(got);
    assert_int_equal(cs_store_ingest_unclaim(f->s, "s", &woken, &e), CS_OK);
    assert_true(woken);
    assert_int_equal(cs_store_ingest_claim(b, "s", 30000, &got, &fresh, &e), CS_OK);
    assert_false(got); /* still A's */
    assert_int_equal(cs_store_ingest_unclaim(f->s, "s", &woken, &e), CS_OK);
    assert_true(woken); /* asked again */
    assert_int_equal(cs_store_ingest_unclaim(f->s, "s", &woken, &e), CS_OK);
    assert_false(woken); /* let go */
    /* let go: B takes it, and it is fresh for B; A's next claim is fresh too */
    assert_int_equal(cs_store_ingest_claim(b, "s", 30000, &got, &fresh, &e), CS_OK);
    assert_true(got);
    assert_true(fresh);
    assert_int_equal(cs_store_ingest_unclaim(b, "s", &woken, &e), CS_OK);
    assert_false(woken);
    assert_int_equal(cs_store_ingest_claim(b, "s", 30000, &got, &fresh, &e), CS_OK);
    assert_true(got);
    assert_false(fresh); /* B let go and took it back: nobody came between */
    /* an expired lease passes on */
    fx_sql(f, "UPDATE ingest_claims SET until_ms = 1");
    assert_int_equal(cs_store_ingest_claim(f->s, "s", 30000, &got, &fresh, &e), CS_OK);
    assert_true(got);
    assert_true(fresh);
    /* B's renewal fails now (a stale reader stores nothing) */
    assert_int_equal(cs_store_ingest_claim(b, "s", 30000, &got, &fresh, &e), CS_OK);
    assert_false(got);
    /* A's connection goes mid-claim (a killed server): B takes over at once */
    cs_store_close(f->s);
    f->s = NULL;
    assert_true(soon(claim_got_fresh, b, "s"));
    cs_store_close(b);
    cs_error oe = {0};
    assert_int_equal(fx_open_store(f, &f->s, &oe), CS_OK); /* for the teardown */
}

static void on_payload(const char *payload, void *arg)
{
    char *got = arg;
    snprintf(got, 64, "%s", payload ? payload : "(reconnected)");
}

static void a_notification_reaches_another_server(void **state)
{
    fx *f = *state;
    cs_error e = {0};
    cs_store_listener *l = NULL;
    char got[64] = "";
    if (!fx_pg()) {
        assert_int_equal(cs_store_listen(f->s, "capscreen", &l, &e), CS_ERR_UNSUPPORTED);
        assert_null(l);
        assert_int_equal(cs_store_notify(f->s, "capscreen", "x", &e), CS_ERR_UNSUPPORTED);
        return;
    }
    cs_store *b = second(f);
    assert_int_equal(cs_store_listen(b, "capscreen", &l, &e), CS_OK);
    assert_int_equal(cs_store_listener_wait(l, 10, on_payload, got, &e), CS_OK);
    assert_string_equal(got, ""); /* nothing yet */
    assert_int_equal(cs_store_notify(f->s, "other", "not for it", &e), CS_OK);
    assert_int_equal(cs_store_notify(f->s, "capscreen", "a:p", &e), CS_OK);
    for (int i = 0; i < 100 && !got[0]; i++)
        assert_int_equal(cs_store_listener_wait(l, 100, on_payload, got, &e), CS_OK);
    assert_string_equal(got, "a:p");
    cs_store_listener_close(l);
    cs_store_close(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, fx_open, fx_close)
        T(sqlite_keeps_them_in_memory),           T(login_counts_add_up_across_servers),
        T(an_upload_lease_has_one_holder),        T(an_analysis_claim_has_one_holder),
        T(a_notification_reaches_another_server),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
