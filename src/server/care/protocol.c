/* protocol.c - strict parsing of the care protocol (protocol.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "capscreen/fileio.h"
#include "server/care/protocol.h"
#include "server/core/vocabulary.h"

#define DAY_S 86400

/* A whole number in [lo, hi] at `key`; missing keeps *out. */
static cs_status get_int(json_t *o, const char *key, int64_t lo, int64_t hi, int64_t *out,
                         cs_error *err)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return CS_OK;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return cs_error_set(err, CS_ERR_ARG,
                            "protocol: %s must be a whole number from %lld to %lld", key,
                            (long long)lo, (long long)hi);
    *out = json_integer_value(v);
    return CS_OK;
}

static cs_status get_bool(json_t *o, const char *key, bool *out, cs_error *err)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return CS_OK;
    if (!json_is_boolean(v))
        return cs_error_set(err, CS_ERR_ARG, "protocol: %s must be true or false", key);
    *out = json_is_true(v);
    return CS_OK;
}

/* A non-empty string of at most cap-1 bytes at `key` (required). */
static cs_status get_text(json_t *o, const char *where, const char *key, char *out, size_t cap,
                          cs_error *err)
{
    const char *v = json_string_value(json_object_get(o, key));
    if (!v || !v[0] || strlen(v) >= cap)
        return cs_error_set(err, CS_ERR_ARG, "protocol: %s needs \"%s\", text of 1 to %zu bytes",
                            where, key, cap - 1);
    snprintf(out, cap, "%s", v);
    return CS_OK;
}

/* Fail on any key of `o` not in the NULL-terminated `allowed`. */
static cs_status only_keys(json_t *o, const char *where, const char *const *allowed, cs_error *err)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        (void)v;
        bool ok = false;
        for (size_t i = 0; allowed[i] && !ok; i++)
            ok = strcmp(k, allowed[i]) == 0;
        if (!ok)
            return cs_error_set(err, CS_ERR_ARG, "protocol: %s has an unknown key \"%.64s\"", where,
                                k);
    }
    return CS_OK;
}

static bool id_ok(const char *id)
{
    for (const char *p = id; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    return id[0] != '\0';
}

static cs_status parse_boosters(json_t *arr, cs_protocol *p, cs_error *err)
{
    static const char *const KEYS[] = {"id", "after", "delay_s", "instruction", NULL};
    if (!arr)
        return CS_OK;
    if (!json_is_array(arr) || json_array_size(arr) > CS_PROTOCOL_BOOSTERS_MAX)
        return cs_error_set(err, CS_ERR_ARG, "protocol: boosters must be a list of at most %d",
                            CS_PROTOCOL_BOOSTERS_MAX);
    size_t i;
    json_t *b;
    json_array_foreach(arr, i, b)
    {
        cs_booster *o = &p->boosters[i];
        char where[32];
        snprintf(where, sizeof where, "boosters[%zu]", i);
        cs_status st;
        if (!json_is_object(b))
            return cs_error_set(err, CS_ERR_ARG, "protocol: %s must be an object", where);
        if ((st = only_keys(b, where, KEYS, err)) != CS_OK ||
            (st = get_text(b, where, "id", o->id, sizeof o->id, err)) != CS_OK ||
            (st = get_text(b, where, "instruction", o->instruction, sizeof o->instruction, err)) !=
                CS_OK)
            return st;
        const char *after = json_string_value(json_object_get(b, "after"));
        if (!after || strcmp(after, "small_bowel_entry") != 0)
            return cs_error_set(err, CS_ERR_ARG,
                                "protocol: %s \"after\" must be \"small_bowel_entry\"", where);
        o->delay_s = 0;
        if ((st = get_int(b, "delay_s", 0, DAY_S, &o->delay_s, err)) != CS_OK)
            return st;
        if (!id_ok(o->id))
            return cs_error_set(err, CS_ERR_ARG, "protocol: %s id must be of [a-z0-9_]", where);
        for (size_t j = 0; j < i; j++)
            if (strcmp(p->boosters[j].id, o->id) == 0)
                return cs_error_set(err, CS_ERR_ARG, "protocol: booster id \"%s\" twice", o->id);
        p->nboosters++;
    }
    return CS_OK;
}

static bool time_ok(const char *t)
{
    return strlen(t) == 5 && t[0] >= '0' && t[0] <= '2' && t[1] >= '0' && t[1] <= '9' &&
           t[2] == ':' && t[3] >= '0' && t[3] <= '5' && t[4] >= '0' && t[4] <= '9' &&
           (t[0] - '0') * 10 + (t[1] - '0') < 24;
}

static cs_status parse_prep(json_t *arr, cs_protocol *p, cs_error *err)
{
    static const char *const KEYS[] = {"id", "day", "time", "text", NULL};
    if (!arr)
        return CS_OK;
    if (!json_is_array(arr) || json_array_size(arr) > CS_PROTOCOL_PREP_MAX)
        return cs_error_set(err, CS_ERR_ARG, "protocol: prep must be a list of at most %d steps",
                            CS_PROTOCOL_PREP_MAX);
    size_t i;
    json_t *b;
    json_array_foreach(arr, i, b)
    {
        cs_prep_step *o = &p->prep[i];
        char where[32];
        snprintf(where, sizeof where, "prep[%zu]", i);
        cs_status st;
        if (!json_is_object(b))
            return cs_error_set(err, CS_ERR_ARG, "protocol: %s must be an object", where);
        if ((st = only_keys(b, where, KEYS, err)) != CS_OK ||
            (st = get_text(b, where, "id", o->id, sizeof o->id, err)) != CS_OK ||
            (st = get_text(b, where, "day", o->day, sizeof o->day, err)) != CS_OK ||
            (st = get_text(b, where, "time", o->time, sizeof o->time, err)) != CS_OK ||
            (st = get_text(b, where, "text", o->text, sizeof o->text, err)) != CS_OK)
            return st;
        if (!id_ok(o->id))
            return cs_error_set(err, CS_ERR_ARG, "protocol: %s id must be of [a-z0-9_]", where);
        if (strcmp(o->day, "day_before") != 0 && strcmp(o->day, "day_of") != 0)
            return cs_error_set(err, CS_ERR_ARG,
                                "protocol: %s day must be \"day_before\" or \"day_of\"", where);
        if (!time_ok(o->time))
            return cs_error_set(err, CS_ERR_ARG, "protocol: %s time must be HH:MM (24-hour)",
                                where);
        for (size_t j = 0; j < i; j++)
            if (strcmp(p->prep[j].id, o->id) == 0)
                return cs_error_set(err, CS_ERR_ARG, "protocol: prep id \"%s\" twice", o->id);
        p->nprep++;
    }
    return CS_OK;
}

/* "report_rules": [{"when", "value"?, "recommend", "urgent"?,
 * "follow_up_months"?}, ...]; first match wins, so an "otherwise" rule
 * must come last, and the list must have one so every study gets a
 * suggestion once its facts are known. */
static cs_status parse_report_rules(json_t *arr, cs_protocol *p, cs_error *err)
{
    static const char *const KEYS[] = {"when", "value", "recommend", "urgent", "follow_up_months",
                                       NULL};
    cs_report_rules_default(&p->report);
    if (!arr)
        return CS_OK;
    if (!json_is_array(arr) || json_array_size(arr) == 0 ||
        json_array_size(arr) > CS_REPORT_RULES_MAX)
        return cs_error_set(err, CS_ERR_ARG,
                            "protocol: report_rules must be a list of 1 to %d rules",
                            CS_REPORT_RULES_MAX);
    memset(&p->report, 0, sizeof p->report);
    size_t i;
    json_t *b;
    json_array_foreach(arr, i, b)
    {
        cs_report_rule *o = &p->report.rule[i];
        char where[48]; /* room for any size_t */
        snprintf(where, sizeof where, "report_rules[%zu]", i);
        cs_status st;
        if (!json_is_object(b))
            return cs_error_set(err, CS_ERR_ARG, "protocol: %s must be an object", where);
        if ((st = only_keys(b, where, KEYS, err)) != CS_OK)
            return st;
        const char *when = json_string_value(json_object_get(b, "when"));
        if (!cs_report_when_parse(when, &o->when))
            return cs_error_set(err, CS_ERR_ARG,
                                "protocol: %s \"when\" must be suspected_cancer, "
                                "polyp_mm_at_least, polyps_at_least, inadequate_cleansing, "
                                "incomplete or otherwise",
                                where);
        bool threshold = o->when == CS_WHEN_POLYP_MM_AT_LEAST || o->when == CS_WHEN_POLYPS_AT_LEAST;
        int64_t value = 0, months = -1;
        if (threshold != (json_object_get(b, "value") != NULL))
            return cs_error_set(err, CS_ERR_ARG,
                                threshold ? "protocol: %s needs \"value\" (mm or a polyp count)"
                                          : "protocol: %s \"value\" is only for the thresholds",
                                where);
        char key[96]; /* where and the longest key name */
        snprintf(key, sizeof key, "%s value", where);
        json_t *v = json_object_get(b, "value");
        if (v && (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 200))
            return cs_error_set(err, CS_ERR_ARG,
                                "protocol: %s must be a whole number from 1 to 200", key);
        value = v ? json_integer_value(v) : 0;
        snprintf(key, sizeof key, "%s follow_up_months", where);
        json_t *m = json_object_get(b, "follow_up_months");
        if (m && (!json_is_integer(m) || json_integer_value(m) < 0 || json_integer_value(m) > 120))
            return cs_error_set(err, CS_ERR_ARG,
                                "protocol: %s must be a whole number from 0 to 120", key);
        months = m ? json_integer_value(m) : -1;
        const char *rec = json_string_value(json_object_get(b, "recommend"));
        if (!cs_vocab_has(cs_vocab_recommendations, rec))
            return cs_error_set(err, CS_ERR_ARG,
                                "protocol: %s \"recommend\" must be no_further_test, "
                                "colonoscopy or repeat_capsule",
                                where);
        snprintf(o->recommend, sizeof o->recommend, "%s", rec);
        o->value = (int)value;
        o->follow_up_months = (int)months;
        o->urgent = false;
        if ((st = get_bool(b, "urgent", &o->urgent, err)) != CS_OK)
            return cs_error_set(err, CS_ERR_ARG, "protocol: %s urgent must be true or false",
                                where);
        p->report.n++;
    }
    if (p->report.rule[p->report.n - 1].when != CS_WHEN_OTHERWISE)
        return cs_error_set(err, CS_ERR_ARG,
                            "protocol: report_rules must end with an \"otherwise\" rule");
    for (int k = 0; k < p->report.n - 1; k++)
        if (p->report.rule[k].when == CS_WHEN_OTHERWISE)
            return cs_error_set(err, CS_ERR_ARG,
                                "protocol: report_rules[%d] \"otherwise\" hides the rules after it",
                                k);
    return CS_OK;
}

cs_status cs_protocol_parse(const char *json, cs_protocol *p, cs_error *err)
{
    static const char *const KEYS[] = {"protocol_version",
                                       "name",
                                       "no_frames_alert_s",
                                       "hub_offline_alert_s",
                                       "spool_full_pct",
                                       "gastric_retention_alert_s",
                                       "end_of_recording_incomplete",
                                       "bleeding_live",
                                       "boosters",
                                       "prep",
                                       "report_rules",
                                       NULL};
    json_error_t je;
    memset(p, 0, sizeof *p);
    json_t *o = json_loads(json ? json : "", JSON_REJECT_DUPLICATES, &je);
    if (!o)
        return cs_error_set(err, CS_ERR_ARG, "protocol: not JSON: %s (line %d)", je.text, je.line);
    cs_status st = CS_OK;
    int64_t version = 0, spool = 90;
    /* Defaults (docs/care.md); the file may leave any timing out. */
    snprintf(p->name, sizeof p->name, "unnamed");
    p->no_frames_alert_s = 600;
    p->hub_offline_alert_s = 300;
    p->gastric_retention_alert_s = 3600;
    p->end_of_recording_incomplete = true;
    p->bleeding_live = true;
    if (!json_is_object(o))
        st = cs_error_set(err, CS_ERR_ARG, "protocol: must be a JSON object");
    else if ((st = only_keys(o, "the protocol", KEYS, err)) == CS_OK &&
             (st = get_int(o, "protocol_version", 1, 1000, &version, err)) == CS_OK &&
             version != CS_PROTOCOL_VERSION)
        st = cs_error_set(err, CS_ERR_ARG, "protocol: protocol_version must be %d",
                          CS_PROTOCOL_VERSION);
    if (st == CS_OK && json_object_get(o, "name"))
        st = get_text(o, "the protocol", "name", p->name, sizeof p->name, err);
    if (st == CS_OK &&
        (st = get_int(o, "no_frames_alert_s", 1, DAY_S, &p->no_frames_alert_s, err)) == CS_OK &&
        (st = get_int(o, "hub_offline_alert_s", 1, DAY_S, &p->hub_offline_alert_s, err)) == CS_OK &&
        (st = get_int(o, "spool_full_pct", 1, 100, &spool, err)) == CS_OK &&
        (st = get_int(o, "gastric_retention_alert_s", 1, DAY_S, &p->gastric_retention_alert_s,
                      err)) == CS_OK &&
        (st = get_bool(o, "end_of_recording_incomplete", &p->end_of_recording_incomplete, err)) ==
            CS_OK &&
        (st = get_bool(o, "bleeding_live", &p->bleeding_live, err)) == CS_OK &&
        (st = parse_boosters(json_object_get(o, "boosters"), p, err)) == CS_OK &&
        (st = parse_prep(json_object_get(o, "prep"), p, err)) == CS_OK)
        st = parse_report_rules(json_object_get(o, "report_rules"), p, err);
    if (st == CS_OK && p->report.n == 0) /* "report_rules" absent */
        cs_report_rules_default(&p->report);
    p->spool_full_pct = (int)spool;
    json_decref(o);
    return st;
}

cs_status cs_protocol_load(const char *path, cs_protocol *out, char **text, cs_error *err)
{
    uint8_t *buf = NULL;
    size_t n = 0;
    if (text)
        *text = NULL;
    cs_status st = cs_file_read(path, 1 << 20, &buf, &n, err);
    if (st != CS_OK)
        return st;
    char *t = realloc(buf, n + 1);
    if (!t) {
        free(buf);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory reading %s", path);
    }
    t[n] = '\0';
    if (n >= 16384) { /* CS_PROTOCOL_MAX: it is stored with each study */
        free(t);
        return cs_error_set(err, CS_ERR_ARG, "protocol %s: over 16383 bytes", path);
    }
    if (strlen(t) != n) {
        free(t);
        return cs_error_set(err, CS_ERR_ARG, "protocol %s: holds a NUL byte", path);
    }
    cs_error pe = {0};
    st = cs_protocol_parse(t, out, &pe);
    if (st != CS_OK) {
        free(t);
        return cs_error_set(err, st, "%s: %s", path, pe.msg);
    }
    if (text)
        *text = t;
    else
        free(t);
    return CS_OK;
}
