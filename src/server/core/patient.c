/* patient.c - NHS number and date-of-birth checks (patient.h). */
#include "server/core/patient.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "server/core/vocabulary.h"

bool cs_nhs_number_check(const char *in, char out[11])
{
    char d[11];
    int n = 0;
    if (!in)
        return false;
    for (const char *p = in; *p; p++) {
        if (*p >= '0' && *p <= '9') {
            if (n == 10)
                return false;
            d[n++] = *p;
        } else if ((*p == ' ' || *p == '-') && n > 0 && p[1] >= '0' && p[1] <= '9') {
            continue; /* a separator between digits, as the number is printed */
        } else {
            return false;
        }
    }
    if (n != 10)
        return false;
    int sum = 0;
    for (int i = 0; i < 9; i++)
        sum += (d[i] - '0') * (10 - i);
    int check = 11 - sum % 11;
    if (check == 11)
        check = 0;
    if (check == 10 || check != d[9] - '0')
        return false;
    memcpy(out, d, 10);
    out[10] = '\0';
    return true;
}

static bool parse_date(const char *s, int *y, int *m, int *d)
{
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return false;
    *y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    *m = (s[5] - '0') * 10 + (s[6] - '0');
    *d = (s[8] - '0') * 10 + (s[9] - '0');
    if (*m < 1 || *m > 12 || *d < 1 || *d > mdays[*m - 1])
        return false;
    bool leap = (*y % 4 == 0 && *y % 100 != 0) || *y % 400 == 0;
    return !(*m == 2 && *d == 29 && !leap);
}

bool cs_birth_date_check(const char *date, const char *today)
{
    int y, m, d, ty, tm, td;
    if (!parse_date(date, &y, &m, &d) || !parse_date(today, &ty, &tm, &td))
        return false;
    if (strcmp(date, today) > 0) /* same fixed-width format: text order is date order */
        return false;
    char oldest[40];
    snprintf(oldest, sizeof oldest, "%04d-%02d-%02d", ty - CS_NHS_AGE_MAX, tm, td);
    return strcmp(date, oldest) >= 0;
}

void cs_date_utc(int64_t now_s, char out[11])
{
    time_t t = (time_t)now_s;
    struct tm tmv;
    char buf[48];
    gmtime_r(&t, &tmv);
    snprintf(buf, sizeof buf, "%04d-%02d-%02d", tmv.tm_year + 1900, tmv.tm_mon + 1, tmv.tm_mday);
    memcpy(out, buf, 10); /* years 1000-9999: always 10 characters */
    out[10] = '\0';
}

/* Copy string member `key` of `o` into out (cap bytes). Absent: "" and
 * true unless required. false: not a string, too long, or required and
 * blank. */
static bool text_field(json_t *o, const char *key, char *out, size_t cap, bool required)
{
    json_t *v = json_object_get(o, key);
    out[0] = '\0';
    if (!v)
        return !required;
    if (!json_is_string(v) || strlen(json_string_value(v)) >= cap)
        return false;
    const char *t = json_string_value(v);
    if (required && t[strspn(t, " \t")] == '\0')
        return false;
    snprintf(out, cap, "%s", t);
    return true;
}

/* text_field, and the value (when given) is a word of `set`. */
static bool word_field(json_t *o, const char *key, const cs_vocab_word *set, char *out, size_t cap,
                       bool required)
{
    if (!text_field(o, key, out, cap, required))
        return false;
    return out[0] == '\0' || cs_vocab_has(set, out);
}

static int fail(int status, char code[32], const char *c, char *msg, size_t cap, const char *fmt,
                ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, cap, fmt, ap);
    va_end(ap);
    snprintf(code, 32, "%s", c);
    return status;
}

static int parse_patient(json_t *pj, const char *today, cs_patient_rec *p, char code[32], char *msg,
                         size_t cap)
{
    char nhs[32];
    if (!json_is_object(pj))
        return fail(400, code, "bad_json", msg, cap, "patient must be an object");
    if (!text_field(pj, "nhs_number", nhs, sizeof nhs, true))
        return fail(400, code, "bad_json", msg, cap,
                    "patient.nhs_number is required: the 10-digit NHS number");
    if (!cs_nhs_number_check(nhs, p->nhs_number))
        return fail(422, code, "invalid_nhs_number", msg, cap,
                    "patient.nhs_number '%s' is not a valid NHS number (10 digits, the last "
                    "the modulus-11 check digit)",
                    nhs);
    if (!text_field(pj, "family", p->family, sizeof p->family, true))
        return fail(400, code, "bad_json", msg, cap,
                    "patient.family is required: non-blank text of at most %zu bytes",
                    sizeof p->family - 1);
    if (!text_field(pj, "given", p->given, sizeof p->given, true))
        return fail(400, code, "bad_json", msg, cap,
                    "patient.given is required: non-blank text of at most %zu bytes",
                    sizeof p->given - 1);
    char dob[32];
    if (!text_field(pj, "birth_date", dob, sizeof dob, true))
        return fail(400, code, "bad_json", msg, cap, "patient.birth_date is required: YYYY-MM-DD");
    if (!cs_birth_date_check(dob, today))
        return fail(422, code, "invalid_birth_date", msg, cap,
                    "patient.birth_date '%s' is not a plausible date of birth (YYYY-MM-DD, not "
                    "in the future, at most %d years ago)",
                    dob, CS_NHS_AGE_MAX);
    memcpy(p->birth_date, dob, 10); /* checked: exactly YYYY-MM-DD */
    p->birth_date[10] = '\0';
    if (!word_field(pj, "sex", cs_vocab_sexes, p->sex, sizeof p->sex, true))
        return fail(400, code, "bad_json", msg, cap,
                    "patient.sex is required: female, male, other or unknown");
    return 0;
}

static int parse_episode(json_t *ej, cs_episode_rec *e, char code[32], char *msg, size_t cap)
{
    if (!json_is_object(ej))
        return fail(400, code, "bad_json", msg, cap, "episode must be an object");
    if (!word_field(ej, "pathway", cs_vocab_pathways, e->pathway, sizeof e->pathway, false))
        return fail(400, code, "bad_json", msg, cap,
                    "episode.pathway must be screening or symptomatic");
    if (!word_field(ej, "indication", cs_vocab_indications, e->indication, sizeof e->indication,
                    false))
        return fail(400, code, "bad_json", msg, cap,
                    "episode.indication must be fit_positive, surveillance, symptoms, "
                    "incomplete_colonoscopy or other");
    if (!text_field(ej, "indication_detail", e->indication_detail, sizeof e->indication_detail,
                    false))
        return fail(400, code, "bad_json", msg, cap,
                    "episode.indication_detail must be text of at most %zu bytes",
                    sizeof e->indication_detail - 1);
    if (strcmp(e->indication, "other") == 0 &&
        e->indication_detail[strspn(e->indication_detail, " \t")] == '\0')
        return fail(400, code, "bad_json", msg, cap,
                    "episode.indication_detail is required when the indication is other");
    if (!text_field(ej, "referrer", e->referrer, sizeof e->referrer, false))
        return fail(400, code, "bad_json", msg, cap,
                    "episode.referrer must be text of at most %zu bytes", sizeof e->referrer - 1);
    return 0;
}

int cs_patient_from_json(json_t *body, const char *today, cs_patient_rec *p, cs_episode_rec *e,
                         char code[32], char *msg, size_t cap)
{
    memset(p, 0, sizeof *p);
    memset(e, 0, sizeof *e);
    code[0] = '\0';
    msg[0] = '\0';
    json_t *pj = json_object_get(body, "patient"), *ej = json_object_get(body, "episode");
    int st = 0;
    if (pj && !json_is_null(pj))
        st = parse_patient(pj, today, p, code, msg, cap);
    if (st == 0 && ej && !json_is_null(ej))
        st = parse_episode(ej, e, code, msg, cap);
    if (st != 0) {
        memset(p, 0, sizeof *p);
        memset(e, 0, sizeof *e);
    }
    return st;
}
