/* store_sqlite_training.c - reader training on SQLite (schema 6, issue
 * 12): courses, known-answer cases and trainees' attempts (store.h,
 * docs/training.md). References, answers and scores are JSON text the API
 * writes and reads; the store keeps who, when and the lock that a
 * submitted attempt no longer changes. */
#include <string.h>

#include "store/store_sqlite.h"

#define COURSE_COLS                                                                 \
    "id, name, show_flags, tolerance_frames, standard_cases, standard_sensitivity," \
    " created_by, created_at_ms"
#define CASE_COLS "id, course, study, label, reference, created_by, created_at_ms"
#define ATTEMPT_COLS                                                                      \
    "a.id, a.case_id, c.course, a.trainee, a.started_at_ms, a.submitted_at_ms, a.answer," \
    " a.score"
#define ATTEMPT_FROM " FROM training_attempts a JOIN training_cases c ON c.id = a.case_id"

static void read_course(sqlite3_stmt *st, void *out)
{
    cs_course_rec *o = out;
    memset(o, 0, sizeof *o);
    text(st, 0, o->id, sizeof o->id);
    text(st, 1, o->name, sizeof o->name);
    o->show_flags = sqlite3_column_int(st, 2) != 0;
    o->tolerance_frames = sqlite3_column_int(st, 3);
    o->standard_cases = sqlite3_column_int(st, 4);
    o->standard_sensitivity = sqlite3_column_double(st, 5);
    text(st, 6, o->created_by, sizeof o->created_by);
    o->created_at_ms = sqlite3_column_int64(st, 7);
}

static void read_case(sqlite3_stmt *st, void *out)
{
    cs_case_rec *o = out;
    memset(o, 0, sizeof *o);
    text(st, 0, o->id, sizeof o->id);
    text(st, 1, o->course, sizeof o->course);
    text(st, 2, o->study, sizeof o->study);
    text(st, 3, o->label, sizeof o->label);
    text(st, 4, o->reference, sizeof o->reference);
    text(st, 5, o->created_by, sizeof o->created_by);
    o->created_at_ms = sqlite3_column_int64(st, 6);
}

static void read_attempt(sqlite3_stmt *st, void *out)
{
    cs_attempt_rec *o = out;
    memset(o, 0, sizeof *o);
    o->id = sqlite3_column_int64(st, 0);
    text(st, 1, o->case_id, sizeof o->case_id);
    text(st, 2, o->course, sizeof o->course);
    text(st, 3, o->trainee, sizeof o->trainee);
    o->started_at_ms = sqlite3_column_int64(st, 4);
    o->submitted_at_ms = sqlite3_column_int64(st, 5);
    text(st, 6, o->answer, sizeof o->answer);
    text(st, 7, o->score, sizeof o->score);
}

/* The one row of `sql` with `args` into out; *found. Under q->lock. */
static cs_status one(sq_store *q, const char *sql, const sq_arg *args, size_t nargs,
                     void (*read)(sqlite3_stmt *, void *), void *out, bool *found, const char *what,
                     cs_error *err)
{
    sqlite3_stmt *st = NULL;
    *found = false;
    cs_status r = prep(q, sql, &st, err);
    if (r == CS_OK)
        r = bind_args(q, st, args, nargs, err);
    if (r == CS_OK) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            read(st, out);
            *found = true;
        } else if (rc != SQLITE_DONE) {
            r = db_fail(q, err, what);
        }
    }
    done(st);
    return r;
}
#define ONE(q, sql, read, out, found, what, err, ...) \
    one((q), (sql), SQ_ARGS(__VA_ARGS__), (read), (out), (found), (what), (err))

/* Does `sql` with one text argument select a row? Under q->lock. */
static cs_status exists(sq_store *q, const char *sql, const char *arg, bool *yes, cs_error *err)
{
    sqlite3_stmt *st = NULL;
    *yes = false;
    cs_status r = prep(q, sql, &st, err);
    if (r == CS_OK && (r = sq_bind(q, st, err, sq_text(arg))) == CS_OK) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            *yes = true;
        else if (rc != SQLITE_DONE)
            r = db_fail(q, err, "look up");
    }
    done(st);
    return r;
}

cs_status sq_course_create(cs_store *s, const cs_course_rec *c, cs_check_outcome *outcome,
                           cs_error *err)
{
    sq_store *q = SQ(s);
    bool in_tx = false, taken = false;
    *outcome = CS_CHECK_NOT_FOUND;
    pthread_mutex_lock(&q->lock);
    cs_status r = begin(q, &in_tx, err);
    if (r == CS_OK)
        r = exists(q, "SELECT 1 FROM courses WHERE id = ?", c->id, &taken, err);
    if (r == CS_OK && taken)
        *outcome = CS_CHECK_CONFLICT;
    else if (r == CS_OK &&
             (r = run(q, "INSERT INTO courses (" COURSE_COLS ") VALUES (?,?,?,?,?,?,?,?)", NULL,
                      err, sq_text(c->id), sq_text(c->name), sq_i64(c->show_flags),
                      sq_i64(c->tolerance_frames), sq_i64(c->standard_cases),
                      sq_f64(c->standard_sensitivity), sq_text(c->created_by),
                      sq_i64(c->created_at_ms))) == CS_OK &&
             (r = commit(q, &in_tx, err)) == CS_OK)
        *outcome = CS_CHECK_OK;
    rollback(q, in_tx);
    pthread_mutex_unlock(&q->lock);
    return r;
}

cs_status sq_course_get(cs_store *s, const char *id, bool *found, cs_course_rec *out, cs_error *err)
{
    return get_by_id(SQ(s), "SELECT " COURSE_COLS " FROM courses WHERE id = ?", id, read_course,
                     out, found, "read course", err);
}

cs_status sq_courses_list(cs_store *s, cs_course_rec **out, size_t *n, cs_error *err)
{
    return list_query(SQ(s), "SELECT " COURSE_COLS " FROM courses ORDER BY name, id", NULL, 0,
                      read_course, sizeof **out, (void **)out, n, "list courses", err);
}

cs_status sq_case_create(cs_store *s, const cs_case_rec *c, cs_check_outcome *outcome,
                         cs_error *err)
{
    sq_store *q = SQ(s);
    bool in_tx = false, course = false, study = false, dup = false;
    *outcome = CS_CHECK_NOT_FOUND;
    pthread_mutex_lock(&q->lock);
    cs_status r = begin(q, &in_tx, err);
    if (r == CS_OK)
        r = exists(q, "SELECT 1 FROM courses WHERE id = ?", c->course, &course, err);
    if (r == CS_OK)
        r = exists(q, "SELECT 1 FROM studies WHERE id = ?", c->study, &study, err);
    if (r == CS_OK && course && study) {
        sqlite3_stmt *st = NULL;
        /* One case per study, in any course (store.h), checked in the
         * write's own transaction. */
        r = prep(q, "SELECT 1 FROM training_cases WHERE study = ?", &st, err);
        if (r == CS_OK && (r = sq_bind(q, st, err, sq_text(c->study))) == CS_OK) {
            int rc = sqlite3_step(st);
            dup = rc == SQLITE_ROW;
            if (rc != SQLITE_ROW && rc != SQLITE_DONE)
                r = db_fail(q, err, "look up case");
        }
        done(st);
        if (r == CS_OK && dup)
            *outcome = CS_CHECK_CONFLICT;
        else if (r == CS_OK &&
                 (r = run(q, "INSERT INTO training_cases (" CASE_COLS ") VALUES (?,?,?,?,?,?,?)",
                          NULL, err, sq_text(c->id), sq_text(c->course), sq_text(c->study),
                          sq_text(c->label), sq_text(c->reference), sq_text(c->created_by),
                          sq_i64(c->created_at_ms))) == CS_OK &&
                 (r = commit(q, &in_tx, err)) == CS_OK)
            *outcome = CS_CHECK_OK;
    }
    rollback(q, in_tx);
    pthread_mutex_unlock(&q->lock);
    return r;
}

cs_status sq_case_get(cs_store *s, const char *id, bool *found, cs_case_rec *out, cs_error *err)
{
    return get_by_id(SQ(s), "SELECT " CASE_COLS " FROM training_cases WHERE id = ?", id, read_case,
                     out, found, "read case", err);
}

cs_status sq_cases_list(cs_store *s, const char *course, cs_case_rec **out, size_t *n,
                        cs_error *err)
{
    return sq_list(SQ(s),
                   "SELECT " CASE_COLS " FROM training_cases WHERE course = ?"
                   " ORDER BY created_at_ms, id",
                   read_case, out, n, "list cases", err, sq_text(course));
}

cs_status sq_attempt_open(cs_store *s, const char *case_id, const char *trainee, int64_t now_ms,
                          cs_attempt_rec *out, cs_check_outcome *outcome, cs_error *err)
{
    sq_store *q = SQ(s);
    bool in_tx = false, found = false, is_case = false;
    *outcome = CS_CHECK_NOT_FOUND;
    pthread_mutex_lock(&q->lock);
    cs_status r = begin(q, &in_tx, err);
    if (r == CS_OK)
        r = exists(q, "SELECT 1 FROM training_cases WHERE id = ?", case_id, &is_case, err);
    if (r == CS_OK && is_case)
        r = run(q,
                "INSERT INTO training_attempts (case_id, trainee, started_at_ms)"
                " VALUES (?, ?, ?) ON CONFLICT (case_id, trainee) DO NOTHING",
                NULL, err, sq_text(case_id), sq_text(trainee), sq_i64(now_ms));
    if (r == CS_OK && is_case)
        r = ONE(q, "SELECT " ATTEMPT_COLS ATTEMPT_FROM " WHERE a.case_id = ? AND a.trainee = ?",
                read_attempt, out, &found, "read attempt", err, sq_text(case_id), sq_text(trainee));
    if (r == CS_OK && found && (r = commit(q, &in_tx, err)) == CS_OK)
        *outcome = CS_CHECK_OK;
    rollback(q, in_tx);
    pthread_mutex_unlock(&q->lock);
    return r;
}

cs_status sq_attempt_get(cs_store *s, int64_t id, bool *found, cs_attempt_rec *out, cs_error *err)
{
    sq_store *q = SQ(s);
    pthread_mutex_lock(&q->lock);
    cs_status r = ONE(q, "SELECT " ATTEMPT_COLS ATTEMPT_FROM " WHERE a.id = ?", read_attempt, out,
                      found, "read attempt", err, sq_i64(id));
    pthread_mutex_unlock(&q->lock);
    return r;
}

/* The answer (and on submit the score and time) of an open attempt. */
static cs_status attempt_write(sq_store *q, int64_t id, const char *answer, const char *score,
                               int64_t at_ms, cs_check_outcome *outcome, cs_error *err)
{
    bool in_tx = false, found = false;
    cs_attempt_rec *cur = malloc(sizeof *cur);
    *outcome = CS_CHECK_NOT_FOUND;
    if (!cur)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    pthread_mutex_lock(&q->lock);
    cs_status r = begin(q, &in_tx, err);
    if (r == CS_OK)
        r = ONE(q, "SELECT " ATTEMPT_COLS ATTEMPT_FROM " WHERE a.id = ?", read_attempt, cur, &found,
                "read attempt", err, sq_i64(id));
    if (r == CS_OK && found && cur->submitted_at_ms > 0) {
        *outcome = CS_CHECK_LOCKED;
    } else if (r == CS_OK && found) {
        r = score ? run(q,
                        "UPDATE training_attempts SET answer = ?, score = ?, submitted_at_ms = ?"
                        " WHERE id = ?",
                        NULL, err, sq_text(answer), sq_text(score), sq_i64(at_ms), sq_i64(id))
                  : run(q, "UPDATE training_attempts SET answer = ? WHERE id = ?", NULL, err,
                        sq_text(answer), sq_i64(id));
        if (r == CS_OK && (r = commit(q, &in_tx, err)) == CS_OK)
            *outcome = CS_CHECK_OK;
    }
    rollback(q, in_tx);
    pthread_mutex_unlock(&q->lock);
    free(cur);
    return r;
}

cs_status sq_attempt_answer(cs_store *s, int64_t id, const char *answer, cs_check_outcome *outcome,
                            cs_error *err)
{
    return attempt_write(SQ(s), id, answer, NULL, 0, outcome, err);
}

cs_status sq_attempt_submit(cs_store *s, int64_t id, const char *answer, const char *score,
                            int64_t at_ms, cs_check_outcome *outcome, cs_error *err)
{
    return attempt_write(SQ(s), id, answer, score, at_ms, outcome, err);
}

cs_status sq_attempts_list(cs_store *s, const char *course, const char *trainee,
                           cs_attempt_rec **out, size_t *n, cs_error *err)
{
    return sq_list(SQ(s),
                   "SELECT " ATTEMPT_COLS ATTEMPT_FROM " WHERE (? = '' OR c.course = ?)"
                   " AND (? = '' OR a.trainee = ?) ORDER BY a.started_at_ms, a.id",
                   read_attempt, out, n, "list attempts", err, sq_text(course), sq_text(course),
                   sq_text(trainee), sq_text(trainee));
}

/* ---- reading time (schema 8) ------------------------------------------------ */

static void read_reading(sqlite3_stmt *st, void *out)
{
    cs_reading_rec *o = out;
    memset(o, 0, sizeof *o);
    text(st, 0, o->study, sizeof o->study);
    text(st, 1, o->reader, sizeof o->reader);
    text(st, 2, o->view, sizeof o->view);
    o->seconds = sqlite3_column_double(st, 3);
    o->updated_at_ms = sqlite3_column_int64(st, 4);
}

cs_status sq_reading_add(cs_store *s, const char *study, const char *reader, const char *view,
                         double seconds, int64_t at_ms, cs_check_outcome *outcome, cs_error *err)
{
    sq_store *q = SQ(s);
    bool in_tx = false, there = false;
    pthread_mutex_lock(&q->lock);
    cs_status r = begin(q, &in_tx, err);
    if (r == CS_OK)
        r = exists(q, "SELECT 1 FROM studies WHERE id = ?", study, &there, err);
    if (r == CS_OK && there &&
        (r = run(q,
                 "INSERT INTO reading_time (study, reader, view, seconds, updated_at_ms)"
                 " VALUES (?, ?, ?, ?, ?) ON CONFLICT (study, reader, view) DO UPDATE SET"
                 " seconds = seconds + excluded.seconds, updated_at_ms = excluded.updated_at_ms",
                 NULL, err, sq_text(study), sq_text(reader), sq_text(view), sq_f64(seconds),
                 sq_i64(at_ms))) == CS_OK &&
        (r = commit(q, &in_tx, err)) == CS_OK)
        *outcome = CS_CHECK_OK;
    rollback(q, in_tx);
    pthread_mutex_unlock(&q->lock);
    return r;
}

cs_status sq_reading_list(cs_store *s, const char *study, cs_reading_rec **out, size_t *n,
                          cs_error *err)
{
    return sq_list(SQ(s),
                   "SELECT study, reader, view, seconds, updated_at_ms FROM reading_time"
                   " WHERE (? = '' OR study = ?) ORDER BY study, reader, view",
                   read_reading, out, n, "list reading time", err, sq_text(study), sq_text(study));
}
