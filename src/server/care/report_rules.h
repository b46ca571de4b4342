/* report_rules.h - the report's clinical rules as pure functions
 * (docs/clinical-record.md, "The report"): CC-CLEAR totals and adequacy,
 * the grade the engine's readability suggests, completeness with its
 * reasons, the site's recommendation rule table, and which of the Nyborg
 * 2025 mandatory fields are still missing.
 *
 * Why here: the rule table is part of the care protocol file (key
 * "report_rules", parsed by protocol.c), and like rules.c these are
 * decisions over facts with no I/O, no clock and no locks: report.c
 * gathers the facts from the store and the unit tests call these
 * directly at the edges.
 *
 * Threads: any. Ownership: every pointer returned points at static text
 * or into the caller's structures. */
#ifndef CS_SERVER_CARE_REPORT_RULES_H
#define CS_SERVER_CARE_REPORT_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- CC-CLEAR ------------------------------------------------------------ */

#define CS_CC_SEGMENTS 3
/* "right_colon", "transverse_colon", "left_colon": the scale's segments. */
extern const char *const cs_cc_clear_segments[CS_CC_SEGMENTS];

/* The old four-word cleansing grades (marks kind "cleansing") on the
 * CC-CLEAR 0-3 scale: excellent 3, good 2, fair 1, poor 0; -1 for
 * anything else (NULL, "", an unknown word). */
int cs_cc_clear_from_legacy(const char *grade);

/* Total and adequacy of three scores (each 0-3, or -1 = not confirmed).
 * *total is -1 and *adequacy NULL while any score is -1. Adequacy:
 * "inadequate" when any segment is 1 or 0, else "excellent" (total 8-9)
 * or "good" (6-7). A total of 6 with no segment below 2 is the lowest
 * adequate one, so no other word is needed. */
void cs_cc_clear_assess(const int score[CS_CC_SEGMENTS], int *total, const char **adequacy);

/* The grade the engine suggests for a segment from how many of its
 * `frames` the engine found readable: >= 90 % readable 3, >= 75 % 2,
 * >= 50 % 1, else 0; -1 when frames is 0 (nothing to judge). A heuristic
 * (docs/clinical-record.md): the reader confirms every grade. */
int cs_cc_clear_suggest(uint64_t readable, uint64_t frames);

/* Split the colon frames [first, end) (first_caecal to excreted, or to the
 * last frame) into the three CC-CLEAR segments by thirds of the frames:
 * from[i]..to[i] (to exclusive). capscreen has no flexure landmarks, so
 * this is the only split the landmarks support (its limits are in the
 * docs). end <= first gives three empty ranges. */
void cs_cc_clear_ranges(uint64_t first, uint64_t end, uint64_t from[CS_CC_SEGMENTS],
                        uint64_t to[CS_CC_SEGMENTS]);

/* ---- the recommendation rule table ---------------------------------------- */

typedef enum cs_report_when {
    CS_WHEN_SUSPECTED_CANCER,     /* any finding marked suspected cancer */
    CS_WHEN_POLYP_MM_AT_LEAST,    /* any polyp with size_mm >= value */
    CS_WHEN_POLYPS_AT_LEAST,      /* the polyps' counts add up to >= value */
    CS_WHEN_INADEQUATE_CLEANSING, /* CC-CLEAR adequacy is inadequate */
    CS_WHEN_INCOMPLETE,           /* completeness is incomplete */
    CS_WHEN_OTHERWISE,            /* always */
} cs_report_when;

#define CS_REPORT_RULES_MAX 16

typedef struct cs_report_rule {
    cs_report_when when;
    int value;            /* mm or polyp count for the two thresholds, else 0 */
    char recommend[32];   /* a word of the "recommendations" vocabulary */
    bool urgent;          /* shown as urgent (a suspected cancer) */
    int follow_up_months; /* 0-120, -1 = none suggested */
} cs_report_rule;

typedef struct cs_report_rules {
    cs_report_rule rule[CS_REPORT_RULES_MAX];
    int n;
} cs_report_rules;

/* The table the shipped etc/care-protocol.json holds too (a protocol file
 * without "report_rules" gets it): suspected cancer -> colonoscopy
 * (urgent); a polyp >= 6 mm -> colonoscopy; >= 3 polyps -> colonoscopy;
 * inadequate cleansing -> repeat_capsule; incomplete -> colonoscopy;
 * otherwise no_further_test, follow-up 24 months. */
void cs_report_rules_default(cs_report_rules *r);

/* "suspected_cancer", "polyp_mm_at_least", "polyps_at_least",
 * "inadequate_cleansing", "incomplete", "otherwise". */
const char *cs_report_when_name(cs_report_when w);
/* false for an unknown name. */
bool cs_report_when_parse(const char *name, cs_report_when *out);

/* ---- facts, completeness, suggestion, mandatory fields -------------------- */

/* What the rules look at; report.c fills it from the study, the marks,
 * the findings and the saved content. */
typedef struct cs_report_facts {
    /* the study (patient and episode) */
    bool has_patient;    /* NHS number, names, date of birth present */
    bool has_indication; /* episode.indication recorded */
    /* the landmarks */
    bool caecum_reached; /* first_caecal set */
    bool excreted;       /* excreted set */
    /* CC-CLEAR as confirmed (content, or migrated old grades); -1 = not */
    int cc_clear[CS_CC_SEGMENTS];
    /* the findings */
    int polyps;              /* sum of the polyp findings' counts */
    double largest_polyp_mm; /* -1: none with a size */
    bool suspected_cancer;
    bool findings_complete; /* every finding has a segment, every polyp a size */
    /* the saved content */
    bool has_prep;              /* prep_checklist not blank */
    const char *recommendation; /* "" = none */
    bool has_recommendation_reason;
    bool has_follow_up;    /* follow_up_months is a number */
    bool has_extracolonic; /* extracolonic not blank */
    bool disclaimer_ack;   /* upper_gi_disclaimer_ack true */
    bool has_reader;       /* someone saved the report */
} cs_report_facts;

/* "complete" or "incomplete"; reasons[0..*n) (up to cap) get why:
 * "caecum_not_reached", "not_excreted", "cleansing_inadequate",
 * "cleansing_not_graded". */
const char *cs_report_completeness(const cs_report_facts *f, const char **reasons, size_t cap,
                                   size_t *n);

/* The first rule of `rules` whose condition holds, or NULL: no rule
 * matched, or a rule about cleansing or completeness was reached while
 * the CC-CLEAR grades are not all confirmed (its answer is not known
 * yet, and a later rule must not answer in its place). */
const cs_report_rule *cs_report_suggest(const cs_report_rules *rules, const cs_report_facts *f);

/* Does the chosen recommendation need a reason? true when one is chosen
 * and it differs from the suggestion (`suggested` NULL or "" = no
 * suggestion, so any choice is an override). */
bool cs_report_is_override(const char *recommendation, const char *suggested);

/* The mandatory fields (docs/clinical-record.md, the Nyborg 2025 table)
 * still missing, in the table's order, into names[0..*n) (cap >= 16 is
 * always enough); `suggested` as from cs_report_suggest's rule (NULL:
 * none). The validator is filled by the signature itself, so it is never
 * listed. */
void cs_report_mandatory_missing(const cs_report_facts *f, const char *suggested,
                                 const char **names, size_t cap, size_t *n);

#endif
