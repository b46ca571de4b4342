/* report_rules.c - the report's pure clinical rules (report_rules.h). */
#include <stdio.h>
#include <string.h>

#include "server/care/report_rules.h"

const char *const cs_cc_clear_segments[CS_CC_SEGMENTS] = {"right_colon", "transverse_colon",
                                                          "left_colon"};

int cs_cc_clear_from_legacy(const char *grade)
{
    static const char *const WORDS[] = {"poor", "fair", "good", "excellent"};
    for (int i = 0; grade && i < 4; i++)
        if (strcmp(grade, WORDS[i]) == 0)
            return i;
    return -1;
}

void cs_cc_clear_assess(const int score[CS_CC_SEGMENTS], int *total, const char **adequacy)
{
    int sum = 0;
    bool low = false;
    *total = -1;
    *adequacy = NULL;
    for (int i = 0; i < CS_CC_SEGMENTS; i++) {
        if (score[i] < 0 || score[i] > 3)
            return;
        sum += score[i];
        low = low || score[i] <= 1;
    }
    *total = sum;
    /* No segment below 2 means a total of 6 or more. */
    *adequacy = low ? "inadequate" : sum >= 8 ? "excellent" : "good";
}

int cs_cc_clear_suggest(uint64_t readable, uint64_t frames)
{
    if (frames == 0)
        return -1;
    if (readable > frames)
        readable = frames;
    /* Whole-number percentages compare without rounding surprises. */
    uint64_t pct100 = readable * 100;
    if (pct100 >= frames * 90)
        return 3;
    if (pct100 >= frames * 75)
        return 2;
    if (pct100 >= frames * 50)
        return 1;
    return 0;
}

void cs_cc_clear_ranges(uint64_t first, uint64_t end, uint64_t from[CS_CC_SEGMENTS],
                        uint64_t to[CS_CC_SEGMENTS])
{
    uint64_t n = end > first ? end - first : 0;
    for (int i = 0; i < CS_CC_SEGMENTS; i++) {
        from[i] = first + n * (uint64_t)i / CS_CC_SEGMENTS;
        to[i] = first + n * (uint64_t)(i + 1) / CS_CC_SEGMENTS;
    }
}

static const char *const WHEN_NAMES[] = {"suspected_cancer", "polyp_mm_at_least",
                                         "polyps_at_least",  "inadequate_cleansing",
                                         "incomplete",       "otherwise"};

const char *cs_report_when_name(cs_report_when w)
{
    return (unsigned)w < sizeof WHEN_NAMES / sizeof WHEN_NAMES[0] ? WHEN_NAMES[w] : "unknown";
}

bool cs_report_when_parse(const char *name, cs_report_when *out)
{
    for (size_t i = 0; name && i < sizeof WHEN_NAMES / sizeof WHEN_NAMES[0]; i++)
        if (strcmp(name, WHEN_NAMES[i]) == 0) {
            *out = (cs_report_when)i;
            return true;
        }
    return false;
}

static void add_rule(cs_report_rules *r, cs_report_when w, int value, const char *rec, bool urgent,
                     int months)
{
    cs_report_rule *o = &r->rule[r->n++];
    o->when = w;
    o->value = value;
    snprintf(o->recommend, sizeof o->recommend, "%s", rec);
    o->urgent = urgent;
    o->follow_up_months = months;
}

void cs_report_rules_default(cs_report_rules *r)
{
    memset(r, 0, sizeof *r);
    add_rule(r, CS_WHEN_SUSPECTED_CANCER, 0, "colonoscopy", true, -1);
    add_rule(r, CS_WHEN_POLYP_MM_AT_LEAST, 6, "colonoscopy", false, -1);
    add_rule(r, CS_WHEN_POLYPS_AT_LEAST, 3, "colonoscopy", false, -1);
    add_rule(r, CS_WHEN_INADEQUATE_CLEANSING, 0, "repeat_capsule", false, -1);
    add_rule(r, CS_WHEN_INCOMPLETE, 0, "colonoscopy", false, -1);
    add_rule(r, CS_WHEN_OTHERWISE, 0, "no_further_test", false, 24);
}

/* Cleansing as far as it is known: 1 inadequate, 0 adequate, -1 not known
 * yet (a segment unconfirmed and none of the confirmed ones at 1 or 0). */
static int inadequate(const cs_report_facts *f)
{
    bool unknown = false;
    for (int i = 0; i < CS_CC_SEGMENTS; i++) {
        if (f->cc_clear[i] >= 0 && f->cc_clear[i] <= 1)
            return 1;
        unknown = unknown || f->cc_clear[i] < 0 || f->cc_clear[i] > 3;
    }
    return unknown ? -1 : 0;
}

const char *cs_report_completeness(const cs_report_facts *f, const char **reasons, size_t cap,
                                   size_t *n)
{
    *n = 0;
#define REASON(t)            \
    do {                     \
        if (*n < cap)        \
            reasons[*n] = t; \
        (*n)++;              \
    } while (0)
    if (!f->caecum_reached)
        REASON("caecum_not_reached");
    if (!f->excreted)
        REASON("not_excreted");
    int bad = inadequate(f);
    if (bad == 1)
        REASON("cleansing_inadequate");
    else if (bad < 0)
        REASON("cleansing_not_graded");
#undef REASON
    if (*n > cap)
        *n = cap;
    return (f->caecum_reached && f->excreted && bad == 0) ? "complete" : "incomplete";
}

const cs_report_rule *cs_report_suggest(const cs_report_rules *rules, const cs_report_facts *f)
{
    int bad = inadequate(f);
    for (int i = 0; i < rules->n; i++) {
        const cs_report_rule *r = &rules->rule[i];
        switch (r->when) {
        case CS_WHEN_SUSPECTED_CANCER:
            if (f->suspected_cancer)
                return r;
            break;
        case CS_WHEN_POLYP_MM_AT_LEAST:
            if (f->largest_polyp_mm >= 0 && f->largest_polyp_mm >= r->value)
                return r;
            break;
        case CS_WHEN_POLYPS_AT_LEAST:
            if (f->polyps >= r->value)
                return r;
            break;
        case CS_WHEN_INADEQUATE_CLEANSING:
            if (bad < 0)
                return NULL; /* not known yet: no later rule may answer */
            if (bad == 1)
                return r;
            break;
        case CS_WHEN_INCOMPLETE:
            if (!f->caecum_reached || !f->excreted || bad == 1)
                return r;
            if (bad < 0)
                return NULL;
            break;
        case CS_WHEN_OTHERWISE: return r;
        }
    }
    return NULL;
}

bool cs_report_is_override(const char *recommendation, const char *suggested)
{
    if (!recommendation || !recommendation[0])
        return false;
    return !suggested || strcmp(recommendation, suggested) != 0;
}

void cs_report_mandatory_missing(const cs_report_facts *f, const char *suggested,
                                 const char **names, size_t cap, size_t *n)
{
    *n = 0;
    int total;
    const char *adequacy;
    cs_cc_clear_assess(f->cc_clear, &total, &adequacy);
    bool graded = adequacy != NULL;
    const struct {
        bool missing;
        const char *name;
    } table[] = {
        {!f->has_patient, "patient"},
        {!f->has_indication, "indication"},
        {!f->has_prep, "bowel_preparation"},
        {!graded, "cc_clear"},
        {!graded, "cleansing_adequacy"},
        {!graded, "completeness"},
        {!f->findings_complete, "findings"},
        {!f->has_extracolonic, "extracolonic"},
        {!f->recommendation || !f->recommendation[0], "recommendation"},
        {cs_report_is_override(f->recommendation, suggested) && !f->has_recommendation_reason,
         "recommendation_reason"},
        {!f->has_follow_up, "follow_up_months"},
        {!f->has_reader, "reader"},
        {!f->disclaimer_ack, "upper_gi_disclaimer_ack"},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].missing && *n < cap)
            names[(*n)++] = table[i].name;
}
