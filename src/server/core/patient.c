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

/* The first control character in t: a byte below 0x20, 0x7F, or a C1
 * control (U+0080..U+009F, UTF-8 0xC2 0x80..0x9F); NULL when none. DICOM's
 * PN and LO allow none of them (PS3.5 6.2), and a name or a referral with
 * a newline or a tab in it is a typing or import error. */
static const char *control_char(const char *t)
{
    for (const unsigned char *u = (const unsigned char *)t; *u; u++)
        if (*u < 0x20 || *u == 0x7F || (*u == 0xC2 && u[1] >= 0x80 && u[1] <= 0x9F))
            return (const char *)u;
    return NULL;
}

enum text_outcome { TEXT_OK, TEXT_BAD, TEXT_CONTROL };

/* Copy string member `key` of `o` into out (cap bytes). Absent: "" and
 * OK unless required. BAD: not a string, too long, or required and
 * blank; CONTROL: it holds a control character (*at: its offset). */
static enum text_outcome text_value(json_t *o, const char *key, char *out, size_t cap,
                                    bool required, size_t *at)
{
    json_t *v = json_object_get(o, key);
    out[0] = '\0';
    if (!v)
        return required ? TEXT_BAD : TEXT_OK;
    if (!json_is_string(v))
        return TEXT_BAD;
    const char *t = json_string_value(v), *cc = control_char(t);
    if (cc) {
        *at = (size_t)(cc - t);
        return TEXT_CONTROL;
    }
    if (strlen(t) >= cap || (required && t[strspn(t, " ")] == '\0'))
        return TEXT_BAD;
    snprintf(out, cap, "%s", t);
    return TEXT_OK;
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

/* A text field of `obj` ("patient" or "episode"): 0 when good (out
 * filled); else 422 invalid_characters naming the field and where, or
 * 400 bad_json with `why` (the rule). A word field (`set` not NULL) must
 * also be one of its words. */
static int field(json_t *o, const char *obj, const char *key, const cs_vocab_word *set, char *out,
                 size_t cap, bool required, char code[32], char *msg, size_t mcap, const char *why)
{
    size_t at = 0;
    enum text_outcome r = text_value(o, key, out, cap, required, &at);
    if (r == TEXT_CONTROL)
        return fail(422, code, "invalid_characters", msg, mcap,
                    "%s.%s holds a control character (byte 0x%02x at byte %zu): a newline, tab or "
                    "other control character is not allowed in patient or episode text",
                    obj, key,
                    (unsigned)(unsigned char)json_string_value(json_object_get(o, key))[at], at);
    if (r == TEXT_BAD || (set && out[0] && !cs_vocab_has(set, out)))
        return fail(400, code, "bad_json", msg, mcap, "%s.%s %s", obj, key, why);
    return 0;
}

static int parse_patient(json_t *pj, const char *today, cs_patient_rec *p, char code[32], char *msg,
                         size_t cap)
{
    char nhs[32], dob[32], why[96];
    int st;
    if (!json_is_object(pj))
        return fail(400, code, "bad_json", msg, cap, "patient must be an object");
    if ((st = field(pj, "patient", "nhs_number", NULL, nhs, sizeof nhs, true, code, msg, cap,
                    "is required: the 10-digit NHS number")) != 0)
        return st;
    if (!cs_nhs_number_check(nhs, p->nhs_number))
        return fail(422, code, "invalid_nhs_number", msg, cap,
                    "patient.nhs_number '%s' is not a valid NHS number (10 digits, the last "
                    "the modulus-11 check digit)",
                    nhs);
    snprintf(why, sizeof why, "is required: non-blank text of at most %zu bytes",
             sizeof p->family - 1);
    if ((st = field(pj, "patient", "family", NULL, p->family, sizeof p->family, true, code, msg,
                    cap, why)) != 0 ||
        (st = field(pj, "patient", "given", NULL, p->given, sizeof p->given, true, code, msg, cap,
                    why)) != 0)
        return st;
    /* DICOM's Patient's Name is "Family^Given", one component group of at
     * most 64 (PS3.5 6.2, PN; counted in bytes, which no validator reads
     * as too long): a name that cannot fit is refused here rather than
     * cut short in the PACS. */
    size_t pn = strlen(p->family) + 1 + strlen(p->given);
    if (pn > CS_PN_GROUP_MAX)
        return fail(422, code, "name_too_long", msg, cap,
                    "patient.family and patient.given together are %zu bytes; at most %d fit "
                    "DICOM's Patient's Name (\"Family^Given\", %d bytes), and a name is never "
                    "cut short",
                    pn - 1, CS_PN_GROUP_MAX - 1, CS_PN_GROUP_MAX);
    if ((st = field(pj, "patient", "birth_date", NULL, dob, sizeof dob, true, code, msg, cap,
                    "is required: YYYY-MM-DD")) != 0)
        return st;
    if (!cs_birth_date_check(dob, today))
        return fail(422, code, "invalid_birth_date", msg, cap,
                    "patient.birth_date '%s' is not a plausible date of birth (YYYY-MM-DD, not "
                    "in the future, at most %d years ago)",
                    dob, CS_NHS_AGE_MAX);
    memcpy(p->birth_date, dob, 10); /* checked: exactly YYYY-MM-DD */
    p->birth_date[10] = '\0';
    return field(pj, "patient", "sex", cs_vocab_sexes, p->sex, sizeof p->sex, true, code, msg, cap,
                 "is required: female, male, other or unknown");
}

static int parse_episode(json_t *ej, cs_episode_rec *e, char code[32], char *msg, size_t cap)
{
    char why[96];
    int st;
    if (!json_is_object(ej))
        return fail(400, code, "bad_json", msg, cap, "episode must be an object");
    if ((st = field(ej, "episode", "pathway", cs_vocab_pathways, e->pathway, sizeof e->pathway,
                    false, code, msg, cap, "must be screening or symptomatic")) != 0 ||
        (st = field(ej, "episode", "indication", cs_vocab_indications, e->indication,
                    sizeof e->indication, false, code, msg, cap,
                    "must be fit_positive, surveillance, symptoms, incomplete_colonoscopy or "
                    "other")) != 0)
        return st;
    snprintf(why, sizeof why, "must be text of at most %zu bytes", sizeof e->indication_detail - 1);
    if ((st = field(ej, "episode", "indication_detail", NULL, e->indication_detail,
                    sizeof e->indication_detail, false, code, msg, cap, why)) != 0)
        return st;
    if (strcmp(e->indication, "other") == 0 &&
        e->indication_detail[strspn(e->indication_detail, " ")] == '\0')
        return fail(400, code, "bad_json", msg, cap,
                    "episode.indication_detail is required when the indication is other");
    /* The referrer goes whole into DICOM's Referring Physician's Name:
     * one PN component group, at most 64 bytes. */
    snprintf(why, sizeof why,
             "must be text of at most %d bytes (DICOM's Referring Physician's Name)",
             CS_PN_GROUP_MAX);
    return field(ej, "episode", "referrer", NULL, e->referrer, CS_PN_GROUP_MAX + 1, false, code,
                 msg, cap, why);
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
