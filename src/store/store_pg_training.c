/* store_pg_training.c - reader training on PostgreSQL (schema 6, issue
 * 12): semantics as store_sqlite_training.c. */
#include <stdlib.h>
#include <string.h>

#include "store/store_pg.h"

#define COURSE_COLS                                                                 \
    "id, name, show_flags, tolerance_frames, standard_cases, standard_sensitivity," \
    " created_by, created_at_ms"
#define CASE_COLS "id, course, study, label, reference, created_by, created_at_ms"
#define ATTEMPT_COLS                                                                      \
    "a.id, a.case_id, c.course, a.trainee, a.started_at_ms, a.submitted_at_ms, a.answer," \
    " a.score"
#define ATTEMPT_FROM " FROM training_attempts a JOIN training_cases c ON c.id = a.case_id"

static void read_course(const PGresult *res, int row, void *out)
{
    cs_course_rec *o = out;
    memset(o, 0, sizeof *o);
    pg_col_text(res, row, 0, o->id, sizeof o->id);
    pg_col_text(res, row, 1, o->name, sizeof o->name);
    o->show_flags = pg_col_i64(res, row, 2) != 0;
    o->tolerance_frames = (int)pg_col_i64(res, row, 3);
    o->standard_cases = (int)pg_col_i64(res, row, 4);
    o->standard_sensitivity = pg_col_f64(res, row, 5);
    pg_col_text(res, row, 6, o->created_by, sizeof o->created_by);
    o->created_at_ms = pg_col_i64(res, row, 7);
}

static void read_case(const PGresult *res, int row, void *out)
{
    cs_case_rec *o = out;
    memset(o, 0, sizeof *o);
    pg_col_text(res, row, 0, o->id, sizeof o->id);
    pg_col_text(res, row, 1, o->course, sizeof o->course);
    pg_col_text(res, row, 2, o->study, sizeof o->study);
    pg_col_text(res, row, 3, o->label, sizeof o->label);
    pg_col_text(res, row, 4, o->reference, sizeof o->reference);
    pg_col_text(res, row, 5, o->created_by, sizeof o->created_by);
    o->created_at_ms = pg_col_i64(res, row, 6);
}

static void read_attempt(const PGresult *res, int row, void *out)
{
    cs_attempt_rec *o = out;
    memset(o, 0, sizeof *o);
    o->id = pg_col_i64(res, row, 0);
    pg_col_text(res, row, 1, o->case_id, sizeof o->case_id);
    pg_col_text(res, row, 2, o->course, sizeof o->course);
    pg_col_text(res, row, 3, o->trainee, sizeof o->trainee);
    o->started_at_ms = pg_col_i64(res, row, 4);
    o->submitted_at_ms = pg_col_i64(res, row, 5);
    pg_col_text(res, row, 6, o->answer, sizeof o->answer);
    pg_col_text(res, row, 7, o->score, sizeof o->score);
}

/* Does `sql` (one text argument) select a row? Under q->lock. */
static cs_status exists(pg_store *q, const char *sql, const char *arg, bool *yes, cs_error *err)
{
    PGresult *res = NULL;
    cs_status r = pg_query(q, sql, &res, "look up", err, pg_text(arg));
    *yes = r == CS_OK && PQntuples(res) > 0;
    PQclear(res);
    return r;
}

/* The first row of a query result into out; *found. */
static void first_row(PGresult *res, void (*read)(const PGresult *, int, void *), void *out,
                      bool *found)
{
    *found = res && PQntuples(res) > 0;
    if (*found)
        read(res, 0, out);
}

cs_status pg_course_create(cs_store *s, const cs_course_rec *c, cs_check_outcome *outcome,
                           cs_error *err)
{
    pg_store *q = PGQ(s);
    int changes = 0;
    pthread_mutex_lock(&q->lock);
    cs_status r =
        pg_run(q,
               "INSERT INTO courses (" COURSE_COLS ") VALUES ($1, $2, $3, $4, $5, $6,"
               " $7, $8) ON CONFLICT (id) DO NOTHING",
               &changes, err, pg_text(c->id), pg_text(c->name), pg_i64(c->show_flags),
               pg_i64(c->tolerance_frames), pg_i64(c->standard_cases),
               pg_f64(c->standard_sensitivity), pg_text(c->created_by), pg_i64(c->created_at_ms));
    pthread_mutex_unlock(&q->lock);
    *outcome = r != CS_OK ? CS_CHECK_NOT_FOUND : changes > 0 ? CS_CHECK_OK : CS_CHECK_CONFLICT;
    return r;
}

cs_status pg_course_get(cs_store *s, const char *id, bool *found, cs_course_rec *out, cs_error *err)
{
    pg_store *q = PGQ(s);
    PGresult *res = NULL;
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_query(q, "SELECT " COURSE_COLS " FROM courses WHERE id = $1", &res,
                           "read course", err, pg_text(id));
    first_row(r == CS_OK ? res : NULL, read_course, out, found);
    PQclear(res);
    pthread_mutex_unlock(&q->lock);
    return r;
}

cs_status pg_courses_list(cs_store *s, cs_course_rec **out, size_t *n, cs_error *err)
{
    pg_store *q = PGQ(s);
    PGresult *res = NULL;
    void *v = NULL;
    *n = 0;
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_exec(q, "SELECT " COURSE_COLS " FROM courses ORDER BY name, id", NULL, 0, &res,
                          NULL, "list courses", err);
    if (r == CS_OK)
        r = pg_list_rows(res, read_course, sizeof **out, &v, n, "list courses", err);
    PQclear(res);
    pthread_mutex_unlock(&q->lock);
    *out = v;
    return r;
}

cs_status pg_case_create(cs_store *s, const cs_case_rec *c, cs_check_outcome *outcome,
                         cs_error *err)
{
    pg_store *q = PGQ(s);
    bool in_tx = false, course = false, study = false, dup = false;
    *outcome = CS_CHECK_NOT_FOUND;
    pthread_mutex_lock(&q->lock);
    /* One case per study, in any course (store.h): under the study's lock,
     * so that two servers making a case of it in two courses at once
     * cannot both find none. */
    cs_status r = pg_begin_study(q, c->study, &in_tx, err);
    if (r == CS_OK)
        r = exists(q, "SELECT 1 FROM courses WHERE id = $1", c->course, &course, err);
    if (r == CS_OK)
        r = exists(q, "SELECT 1 FROM studies WHERE id = $1", c->study, &study, err);
    if (r == CS_OK && course && study)
        r = exists(q, "SELECT 1 FROM training_cases WHERE study = $1", c->study, &dup, err);
    if (r == CS_OK && course && study && dup)
        *outcome = CS_CHECK_CONFLICT;
    else if (r == CS_OK && course && study &&
             (r = pg_run(q,
                         "INSERT INTO training_cases (" CASE_COLS ") VALUES ($1, $2, $3, $4, $5,"
                         " $6, $7)",
                         NULL, err, pg_text(c->id), pg_text(c->course), pg_text(c->study),
                         pg_text(c->label), pg_text(c->reference), pg_text(c->created_by),
                         pg_i64(c->created_at_ms))) == CS_OK &&
             (r = pg_commit(q, &in_tx, err)) == CS_OK)
        *outcome = CS_CHECK_OK;
    pg_rollback(q, in_tx);
    pthread_mutex_unlock(&q->lock);
    return r;
}

cs_status pg_case_get(cs_store *s, const char *id, bool *found, cs_case_rec *out, cs_error *err)
{
    pg_store *q = PGQ(s);
    PGresult *res = NULL;
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_query(q, "SELECT " CASE_COLS " FROM training_cases WHERE id = $1", &res,
                           "read case", err, pg_text(id));
    first_row(r == CS_OK ? res : NULL, read_case, out, found);
    PQclear(res);
    pthread_mutex_unlock(&q->lock);
    return r;
}

cs_status pg_cases_list(cs_store *s, const char *course, cs_case_rec **out, size_t *n,
                        cs_error *err)
{
    pg_store *q = PGQ(s);
    PGresult *res = NULL;
    void *v = NULL;
    *n = 0;
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_query(q,
                           "SELECT " CASE_COLS " FROM training_cases WHERE course = $1"
                           " ORDER BY created_at_ms, id",
                           &res, "list cases", err, pg_text(course));
    if (r == CS_OK)
        r = pg_list_rows(res, read_case, sizeof **out, &v, n, "list cases", err);
    PQclear(res);
    pthread_mutex_unlock(&q->lock);
    *out = v;
    return r;
}

cs_status pg_attempt_open(cs_store *s, const char *case_id, const char *trainee, int64_t now_ms,
                          cs_attempt_rec *out, cs_check_outcome *outcome, cs_error *err)
{
    pg_store *q = PGQ(s);
    PGresult *res = NULL;
    bool in_tx = false, is_case = false, found = false;
    *outcome = CS_CHECK_NOT_FOUND;
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_begin(q, &in_tx, err);
    if (r == CS_OK)
        r = exists(q, "SELECT 1 FROM training_cases WHERE id = $1", case_id, &is_case, err);
    if (r == CS_OK && is_case)
        r = pg_run(q,
                   "INSERT INTO training_attempts (case_id, trainee, started_at_ms)"
                   " VALUES ($1, $2, $3) ON CONFLICT (case_id, trainee) DO NOTHING",
                   NULL, err, pg_text(case_id), pg_text(trainee), pg_i64(now_ms));
    if (r == CS_OK && is_case &&
        (r = pg_query(q,
                      "SELECT " ATTEMPT_COLS ATTEMPT_FROM " WHERE a.case_id = $1 AND"
                      " a.trainee = $2",
                      &res, "read attempt", err, pg_text(case_id), pg_text(trainee))) == CS_OK) {
        first_row(res, read_attempt, out, &found);
        if (found && (r = pg_commit(q, &in_tx, err)) == CS_OK)
            *outcome = CS_CHECK_OK;
    }
    PQclear(res);
    pg_rollback(q, in_tx);
    pthread_mutex_unlock(&q->lock);
    return r;
}

cs_status pg_attempt_get(cs_store *s, int64_t id, bool *found, cs_attempt_rec *out, cs_error *err)
{
    pg_store *q = PGQ(s);
    PGresult *res = NULL;
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_query(q, "SELECT " ATTEMPT_COLS ATTEMPT_FROM " WHERE a.id = $1", &res,
                           "read attempt", err, pg_i64(id));
    first_row(r == CS_OK ? res : NULL, read_attempt, out, found);
    PQclear(res);
    pthread_mutex_unlock(&q->lock);
    return r;
}

/* The answer (and on submit the score and time) of an open attempt: one
 * UPDATE guarded by submitted_at_ms = 0, so a submitted attempt never
 * changes; a second look tells LOCKED from NOT_FOUND. */
static cs_status attempt_write(pg_store *q, int64_t id, const char *answer, const char *score,
                               int64_t at_ms, cs_check_outcome *outcome, cs_error *err)
{
    int changes = 0;
    bool there = false;
    PGresult *res = NULL;
    pthread_mutex_lock(&q->lock);
    cs_status r =
        score ? pg_run(q,
                       "UPDATE training_attempts SET answer = $1, score = $2,"
                       " submitted_at_ms = $3 WHERE id = $4 AND submitted_at_ms = 0",
                       &changes, err, pg_text(answer), pg_text(score), pg_i64(at_ms), pg_i64(id))
              : pg_run(q,
                       "UPDATE training_attempts SET answer = $1 WHERE id = $2 AND"
                       " submitted_at_ms = 0",
                       &changes, err, pg_text(answer), pg_i64(id));
    if (r == CS_OK && changes == 0 &&
        (r = pg_query(q, "SELECT 1 FROM training_attempts WHERE id = $1", &res, "read attempt", err,
                      pg_i64(id))) == CS_OK)
        there = PQntuples(res) > 0;
    PQclear(res);
    pthread_mutex_unlock(&q->lock);
    *outcome = changes > 0 ? CS_CHECK_OK : there ? CS_CHECK_LOCKED : CS_CHECK_NOT_FOUND;
    return r;
}

cs_status pg_attempt_answer(cs_store *s, int64_t id, const char *answer, cs_check_outcome *outcome,
                            cs_error *err)
{
    return attempt_write(PGQ(s), id, answer, NULL, 0, outcome, err);
}

cs_status pg_attempt_submit(cs_store *s, int64_t id, const char *answer, const char *score,
                            int64_t at_ms, cs_check_outcome *outcome, cs_error *err)
{
    return attempt_write(PGQ(s), id, answer, score, at_ms, outcome, err);
}

cs_status pg_attempts_list(cs_store *s, const char *course, const char *trainee,
                           cs_attempt_rec **out, size_t *n, cs_error *err)
{
    pg_store *q = PGQ(s);
    PGresult *res = NULL;
    void *v = NULL;
    *n = 0;
    pthread_mutex_lock(&q->lock);
    cs_status r = pg_query(q,
                           "SELECT " ATTEMPT_COLS ATTEMPT_FROM " WHERE ($1::text = '' OR"
                           " c.course = $1::text) AND ($2::text = '' OR a.trainee = $2::text)"
                           " ORDER BY a.started_at_ms, a.id",
                           &res, "list attempts", err, pg_text(course), pg_text(trainee));
    if (r == CS_OK)
        r = pg_list_rows(res, read_attempt, sizeof **out, &v, n, "list attempts", err);
    PQclear(res);
    pthread_mutex_unlock(&q->lock);
    *out = v;
    return r;
}

/* ---- reading time (schema 8) ------------------------------------------------ */

static void read_reading(const PGresult *res, int row, void *out)
{
    cs_reading_rec *o = out;
    memset(o, 0, sizeof *o);
    pg_col_text(res, row, 0, o->study, sizeof o->study);
    pg_col_text(res, row, 1, o->reader, sizeof o->reader);
    pg_col_text(res, row, 2, o->view, sizeof o->view);
    o->seconds = pg_col_f64(res, row, 3);
    o->updated_at_ms = pg_col_i64(res, row, 4);
}

cs_status pg_reading_add(cs_store *s, const char *study, const char *reader, const char *view,
                         double seconds, int64_t at_ms, cs_check_outcome *outcome, cs_error *err)
{
    pg_store *q = PGQ(s);
    bool there = false;
    pthread_mutex_lock(&q->lock);
    cs_status r = exists(q, "SELECT 1 FROM studies WHERE id = $1", study, &there, err);
    if (r == CS_OK && there &&
        (r = pg_run(q,
                    "INSERT INTO reading_time (study, reader, view, seconds, updated_at_ms)"
                    " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (study, reader, view) DO UPDATE SET"
                    " seconds = reading_time.seconds + excluded.seconds,"
                    " updated_at_ms = excluded.updated_at_ms",
                    NULL, err, pg_text(study), pg_text(reader), pg_text(view), pg_f64(seconds),
                    pg_i64(at_ms))) == CS_OK)
        *outcome = CS_CHECK_OK;
    pthread_mutex_unlock(&q->lock);
    return r;
}

cs_status pg_reading_list(cs_store *s, const char *study, cs_reading_rec **out, size_t *n,
                          cs_error *err)
{
    pg_store *q = PGQ(s);
    PGresult *res = NULL;
    void *v = NULL;
    pthread_mutex_lock(&q->lock);
    cs_status r =
        pg_query(q,
                 "SELECT study, reader, view, seconds, updated_at_ms FROM reading_time"
                 " WHERE ($1::text = '' OR study = $1::text) ORDER BY study, reader, view",
                 &res, "list reading time", err, pg_text(study));
    if (r == CS_OK)
        r = pg_list_rows(res, read_reading, sizeof **out, &v, n, "list reading time", err);
    PQclear(res);
    pthread_mutex_unlock(&q->lock);
    *out = v;
    return r;
}
